#!/usr/bin/env bash
# make cluster: three txc-server nodes on loopback sharing one store in
# this machine's PostgreSQL (database test, tables txc_tc_*), with an etcd
# for discovery and leader election (Debian's etcd-server, installed when
# missing). Nodes n1..n3 listen for gRPC on 127.0.0.1:8091..8093 and for
# admin HTTP on 127.0.0.1:7091..7093; etcd on 127.0.0.1:2379. Clients dial
# "127.0.0.1:8091,127.0.0.1:8092,127.0.0.1:8093" or
# "etcd://127.0.0.1:2379/txc". Ctrl-C stops all of it; the store's tables
# stay (drop them by hand to start empty).
#   CLUSTER_STORE_DSN  the PostgreSQL store (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
#   CLUSTER_DIR        where etcd's data and the logs go (default ./txc-cluster)
#   NODE_ARGS          extra txc-server flags for every node
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dsn=${CLUSTER_STORE_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
dir=${CLUSTER_DIR:-./txc-cluster}
ensure_etcd
mkdir -p "$dir"
for p in 2379 2380 8091 8092 8093 7091 7092 7093; do
  if port_open "$p"; then echo "port $p is in use (another cluster or txc-server running?)" >&2; exit 1; fi
done
etcd_pid=
node_pids=()
cleanup() {
  kill "${node_pids[@]}" 2>/dev/null || true
  wait "${node_pids[@]}" 2>/dev/null || true
  [ -n "$etcd_pid" ] && { kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_etcd "$dir/etcd" 2379
TXC_STORE_DSN=$dsn start_nodes 3 8091 7091 2379 "$dir" --store postgres
leader=$(wait_leader 7091 3 60) || { echo "no node became leader in 60s; logs in $dir" >&2; exit 1; }
echo "cluster up: leader n$leader; gRPC $node_addrs; admin 127.0.0.1:7091..7093; etcd 127.0.0.1:2379; logs in $dir"
echo "kill the leader (kill -9 \$(pgrep -f 'node n$leader ')) and watch another take over (curl 127.0.0.1:709x/readyz); Ctrl-C stops the cluster"
wait "$etcd_pid" || true
echo "etcd exited; stopping" >&2
