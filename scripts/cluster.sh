#!/usr/bin/env bash
# make cluster: three active txc-server nodes on loopback, each with its
# partition of the store in this machine's PostgreSQL (database test,
# tables txc_tc_*: txc_tc_n1_…, one set per node, and the shared lock
# table txc_tc_locks), with an etcd for discovery and partition ownership
# (Debian's etcd-server, installed when missing). Nodes n1..n3 listen for gRPC on 127.0.0.1:8091..8093 and for
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
wait_hosting 7091 3 60 || { echo "the nodes did not all host their partitions in 60s; logs in $dir" >&2; exit 1; }
echo "cluster up: nodes n1..n3, each driving its own transactions; gRPC $node_addrs; admin 127.0.0.1:7091..7093; etcd 127.0.0.1:2379; logs in $dir"
echo "kill one (kill -9 \$(pgrep -f 'node n1 ')) and watch another adopt its partition (curl 127.0.0.1:709x/v1/cluster); Ctrl-C stops the cluster"
wait "$etcd_pid" || true
echo "etcd exited; stopping" >&2
