# Shared helpers for the project's scripts. Sourced, not run.

is_ci() { [ "${CI:-}" = "true" ]; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  if [ -z "${TXC_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    export TXC_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_protoc() {
  command -v protoc >/dev/null 2>&1 && return 0
  if can_apt; then
    echo "installing protobuf-compiler" >&2
    apt_install protobuf-compiler
    return 0
  fi
  echo "protoc is missing: install protobuf-compiler" >&2
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  return 1
}

# ensure_etcd: an etcd server binary on PATH (Debian's etcd-server,
# installed when missing and this is Debian as root).
ensure_etcd() {
  command -v etcd >/dev/null 2>&1 && return 0
  if can_apt; then
    echo "installing etcd-server" >&2
    apt_install etcd-server
    return 0
  fi
  echo "etcd is missing: install etcd-server (or any etcd 3.4+ binary on PATH)" >&2
  return 1
}

# start_etcd dir client_port: a single-member etcd on loopback, data in
# dir, log in dir/etcd.log; sets etcd_pid. The peer port is client_port+1.
start_etcd() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  etcd --name txc-dev --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
    --initial-cluster "txc-dev=http://127.0.0.1:$((port + 1))" >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  wait_port "$port" 30 || { cat "$dir/etcd.log" >&2; return 1; }
}

# start_nodes n grpc_base admin_base etcd_port dir store_args...: n
# txc-server nodes n1..n<n> on 127.0.0.1:<grpc_base+i-1> (admin
# <admin_base+i-1>) joined through the etcd on etcd_port; logs in
# dir/n<i>.log; sets node_pids and node_addrs (comma-separated). Extra
# txc-server flags come from NODE_ARGS.
start_nodes() {
  local n=$1 grpc=$2 admin=$3 etcd_port=$4 dir=$5 i
  shift 5
  node_pids=() node_addrs=
  for ((i = 1; i <= n; i++)); do
    bin/txc-server --node "n$i" --listen "127.0.0.1:$((grpc + i - 1))" --admin-listen "127.0.0.1:$((admin + i - 1))" \
      --etcd-endpoints "127.0.0.1:$etcd_port" "$@" ${NODE_ARGS:-} >"$dir/n$i.log" 2>&1 &
    node_pids+=($!)
    node_addrs+="${node_addrs:+,}127.0.0.1:$((grpc + i - 1))"
  done
  wait_admins "$n" "$admin" "$dir"
}

# start_single_nodes n grpc_base admin_base dir prefix store_args...: n
# single coordinators n1..n<n>, each on its own data dir or SQL tables
# (prefix + the node's name); sets node_pids and node_addrs.
start_single_nodes() {
  local n=$1 grpc=$2 admin=$3 dir=$4 prefix=$5 i
  shift 5
  local args=("$@")
  node_pids=() node_addrs=
  for ((i = 1; i <= n; i++)); do
    [ ${#args[@]} -gt 0 ] && args[${#args[@]} - 1]="${prefix}n${i}_"
    bin/txc-server --node "n$i" --data-dir "$dir/n$i" --listen "127.0.0.1:$((grpc + i - 1))" \
      --admin-listen "127.0.0.1:$((admin + i - 1))" "${args[@]}" ${NODE_ARGS:-} --log-level warn --pprof=true >"$dir/n$i.log" 2>&1 &
    node_pids+=($!)
    node_addrs+="${node_addrs:+,}127.0.0.1:$((grpc + i - 1))"
  done
  wait_admins "$n" "$admin" "$dir"
}

# wait_admins n admin_base dir: waits for the admin ports of nodes
# n1..n<n>, printing a node's log if its port does not open.
wait_admins() {
  local i
  for ((i = 1; i <= $1; i++)); do
    wait_port "$(($2 + i - 1))" 30 || { cat "$3/n$i.log" >&2; return 1; }
  done
}

# wait_hosting admin_base n seconds: waits until each of the n nodes
# n1..n<n> hosts its own partition (its GET /v1/cluster lists it).
wait_hosting() {
  local admin=$1 n=$2 i t ok
  for ((t = 0; t < $3 * 10; t++)); do
    ok=0
    for ((i = 1; i <= n; i++)); do
      curl -fs "http://127.0.0.1:$((admin + i - 1))/v1/cluster" 2>/dev/null | grep -q "\"hosting\":\[[^]]*\"n$i\"" && ok=$((ok + 1))
    done
    [ "$ok" = "$n" ] && return 0
    sleep 0.1
  done
  return 1
}
