#!/usr/bin/env bash
# make bench: starts a fresh txc-server on its embedded store (free ports,
# temporary data dir), runs txc-bench against it, stops the server.
#   BENCH_CLIENTS (64), BENCH_DURATION (10s), BENCH_SCENARIO (tc-2branch)
#   BENCH_ARGS  extra txc-bench flags for the scenario (e.g. "--wait-begin")
#   BENCH_PROFILE=dir  also writes the server's and the load generator's CPU profiles there
#   BENCH_SERVER_PROCS=n  runs the server with GOMAXPROCS=n (default: txc-server --procs auto)
#   BENCH_STORE=embedded|postgres|mysql  the server's store (default embedded); a SQL store
#     uses this machine's database (127.0.0.1, db test) on tables of the run's own, dropped after
#   BENCH_NODES=n  runs n nodes as a cluster (a SQL store and an etcd, Debian's etcd-server,
#     installed when missing), every node active; the load dials all of them; server figures
#     are summed over the nodes. One node is a single coordinator unless BENCH_CLUSTER=1
#     (then a cluster of one: a partition and the shared lock table)
#   BENCH_INDEPENDENT=1 (with BENCH_NODES=n)  n single coordinators instead, on stores of their own,
#     no etcd and no shared lock table: the floor of n processes on this machine
#   BENCH_BIN=path  the txc-bench binary (default bin/txc-bench: old and new builds alternate)
#   BENCH_WATCH_PID=pid  also reports the CPU of that process and its children per
#     transaction (a database server's postmaster, e.g. a private PostgreSQL's)
# The "per tx" and "watched" lines divide the processes' CPU over the whole run (set-up,
# connections, the first transactions included) by the transactions; txc-bench's own
# "µs CPU/tx … (measured window)" lines (--cpu-watch, passed when the build knows it)
# read the load generator, the server and the watched process around the measured
# window only.
# The last line on stdout is txc-bench's JSON object, with "store" and "nodes" added.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

clients=${BENCH_CLIENTS:-64}
duration=${BENCH_DURATION:-10s}
scenario=${BENCH_SCENARIO:-tc-2branch}
data=$(mktemp -d)
grpc_port=$((20000 + RANDOM % 20000))
admin_port=$((grpc_port + 1))
log="$data/server.log"

store=${BENCH_STORE:-embedded}
store_args=()
drop_tables() { :; }
prefix="bench_$$_${RANDOM}_"
# Every table of the run: one node's store, or each node's partition and
# the shared lock table.
like="$(sed 's/_/\\_/g' <<<"$prefix")%"
case "$store" in
  embedded) ;;
  postgres)
    store_args=(--store postgres --store-dsn "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" --store-table-prefix "$prefix")
    drop_tables() {
      local t
      t=$(psql -At -h 127.0.0.1 -U postgres test -c "SELECT string_agg(tablename, ',') FROM pg_tables WHERE tablename LIKE '$like'" 2>/dev/null)
      [ -n "$t" ] && psql -q -h 127.0.0.1 -U postgres test -c "DROP TABLE IF EXISTS $t" >/dev/null 2>&1 || true
    } ;;
  mysql)
    store_args=(--store mysql --store-dsn "root@tcp(127.0.0.1:3306)/test" --store-table-prefix "$prefix")
    drop_tables() {
      local t
      t=$(mariadb -N -h 127.0.0.1 -u root test -e "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '$like'" 2>/dev/null)
      [ -n "$t" ] && [ "$t" != NULL ] && mariadb -h 127.0.0.1 -u root test -e "DROP TABLE IF EXISTS $t" >/dev/null 2>&1 || true
    } ;;
  *) echo "BENCH_STORE must be embedded, postgres or mysql" >&2; exit 2 ;;
esac

nodes=${BENCH_NODES:-1}
server_env=()
[ -n "${BENCH_SERVER_PROCS:-}" ] && server_env=(env GOMAXPROCS="$BENCH_SERVER_PROCS")
etcd_pid=
node_pids=()
cleanup() {
  kill "${node_pids[@]}" 2>/dev/null || true
  wait "${node_pids[@]}" 2>/dev/null || true
  [ -n "$etcd_pid" ] && { kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; }
  rm -rf "$data"
  drop_tables
}
trap cleanup EXIT
if [ "$nodes" = 1 ] && [ -z "${BENCH_CLUSTER:-}" ]; then
  "${server_env[@]}" bin/txc-server --data-dir "$data/store" --listen "127.0.0.1:$grpc_port" \
    --admin-listen "127.0.0.1:$admin_port" --log-level warn --pprof=true "${store_args[@]}" >"$log" 2>&1 &
  node_pids=($!)
  addrs="127.0.0.1:$grpc_port"
  wait_port "$admin_port" 30 || { cat "$log"; exit 1; }
elif [ -n "${BENCH_INDEPENDENT:-}" ]; then
  # n single coordinators, each on a store of its own and with no shared
  # locks or etcd: what n processes reach on this machine, the cluster's
  # floor (not a valid deployment: their locks do not meet).
  GOMAXPROCS=${BENCH_SERVER_PROCS:-} start_single_nodes "$nodes" "$grpc_port" $((grpc_port + nodes)) "$data" "$prefix" "${store_args[@]}"
  admin_port=$((grpc_port + nodes))
  log="$data/n1.log"
  addrs=$node_addrs
else
  [ "$store" = embedded ] && { echo "BENCH_NODES=$nodes needs BENCH_STORE=postgres or mysql" >&2; exit 2; }
  ensure_etcd
  etcd_port=$((grpc_port + 2 * nodes))
  start_etcd "$data/etcd" "$etcd_port"
  NODE_ARGS="--log-level warn --pprof=true" GOMAXPROCS=${BENCH_SERVER_PROCS:-} start_nodes "$nodes" "$grpc_port" $((grpc_port + nodes)) "$etcd_port" "$data" "${store_args[@]}"
  admin_port=$((grpc_port + nodes))
  wait_hosting "$admin_port" "$nodes" 60 || { cat "$data"/n*.log >&2; exit 1; }
  log="$data/n1.log"
  addrs=$node_addrs
fi
admin_ports=()
for ((i = 0; i < nodes; i++)); do admin_ports+=($((admin_port + i))); done
extra=()
profiler=
if [ -n "${BENCH_PROFILE:-}" ]; then
  mkdir -p "$BENCH_PROFILE"
  extra+=(--cpuprofile "$BENCH_PROFILE/bench.cpu")
  secs=${duration%s}
  (sleep 3; curl -s -o "$BENCH_PROFILE/server.cpu" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$((secs > 4 ? secs - 2 : 2))") &
  profiler=$!
fi
# procstat pid...: the processes' read and write system calls and context
# switches (all threads) so far, summed: "syscr syscw ctxsw".
procstat() {
  local pid t r=0 w=0 sw=0 io
  for pid in "$@"; do
    io=$(awk '/^syscr/ {r=$2} /^syscw/ {w=$2} END {print r+0, w+0}' "/proc/$pid/io" 2>/dev/null || echo "0 0")
    r=$((r + ${io% *})) w=$((w + ${io#* }))
    for t in /proc/"$pid"/task/*/status; do
      sw=$((sw + $(awk '/ctxt_switches/ {n+=$2} END {print n+0}' "$t" 2>/dev/null || echo 0)))
    done
  done
  echo "$r $w $sw"
}
# metrics: every node's /metrics, one after the other (counters add up).
metrics() {
  local a
  for a in "${admin_ports[@]}"; do curl -s "http://127.0.0.1:$a/metrics"; done
}
# treecpu pid: CPU seconds used by the process, its live children and the
# children it has reaped.
treecpu() {
  local tick
  tick=$(getconf CLK_TCK)
  { cat "/proc/$1/stat"; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do cat "/proc/$c/stat" 2>/dev/null; done; } |
    awk -v t="$tick" -v p="$1" '{ sub(/^.*\) /, ""); s += $12 + $13; if (NR == 1) s += $14 + $15 } END { printf "%.2f\n", s / t }'
}
bench_bin=${BENCH_BIN:-bin/txc-bench}
# The CPU per transaction over the measured window only (a build that
# knows --cpu-watch): the coordinator's nodes and the watched process.
if "$bench_bin" "$scenario" --help 2>/dev/null | grep -q -- --cpu-watch; then
  watch=$(printf 'server=%s,' "${node_pids[@]}")
  [ -n "${BENCH_WATCH_PID:-}" ] && watch+="db=$BENCH_WATCH_PID,"
  extra+=(--cpu-watch "${watch%,}")
fi
echo "txc-server ($store store, $nodes node(s)) on $addrs; $scenario, $clients clients, $duration"
before=$(procstat "${node_pids[@]}")
[ -n "${BENCH_WATCH_PID:-}" ] && watch_before=$(treecpu "$BENCH_WATCH_PID")
bench_start=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$data/bench.time" "$bench_bin" "$scenario" --addr "$addrs" --clients "$clients" --duration "$duration" ${BENCH_ARGS:-} "${extra[@]}" >"$data/bench.out" &
time_pid=$!
# The load generator's read and write system calls, sampled until it ends.
bench_io="0 0"
while kill -0 "$time_pid" 2>/dev/null; do
  bpid=$(awk '{print $1; exit}' /proc/"$time_pid"/task/*/children 2>/dev/null || true)
  [ -n "$bpid" ] && io=$(awk '/^syscr/ {r=$2} /^syscw/ {w=$2} END {print r+0, w+0}' "/proc/$bpid/io" 2>/dev/null) && [ -n "$io" ] && bench_io=$io
  sleep 0.2
done
wait "$time_pid"
sed '$d' "$data/bench.out"
json=$(tail -n 1 "$data/bench.out")
after=$(procstat "${node_pids[@]}")
[ -n "${BENCH_WATCH_PID:-}" ] && watch_after=$(treecpu "$BENCH_WATCH_PID")
[ -n "$profiler" ] && wait "$profiler"
# Server-side figures go to stderr, so that stdout ends with txc-bench's JSON line.
echo "server after the run: $(curl -s "http://127.0.0.1:$admin_port/v1/stats" | tr -d ' \n')" >&2
metrics | awk '
  /^txc_store_sync_seconds_sum/ {ss+=$2} /^txc_store_sync_seconds_count/ {sc+=$2}
  /^txc_store_batch_items_sum/ {bs+=$2}
  /^process_cpu_seconds_total/ {cpu+=$2} /^txc_transactions_begun_total/ {begun+=$2}
  END { if (sc > 0) printf "store      %d synced batches, mean %.3f ms per sync, mean %.1f changes per batch\n", sc, 1000*ss/sc, bs/sc
        if (begun > 0) printf "server     %.1f s of CPU, %.0f µs per transaction begun (%d), %.2f syncs per transaction\n", cpu, 1e6*cpu/begun, begun, sc/begun }' >&2
begun=$(metrics | awk '/^txc_transactions_begun_total/ {n+=$2} END {print n+0}')
read -r r0 w0 c0 <<<"$before"
read -r r1 w1 c1 <<<"$after"
read -r bu bs <"$data/bench.time"
read -r br bw <<<"$bench_io"
# Transactions to divide by: those the server began, or (--only plain or
# --only floor: none begun) the measured ones (exact with --warmup 0s).
n=${begun:-0}
[ "${n%.*}" = 0 ] && n=$(jq -r '((.plain_tx_per_sec + (.floor_tx_per_sec // 0)) * .seconds) | round' <<<"$json" 2>/dev/null || echo 0)
awk -v r=$((r1 - r0)) -v w=$((w1 - w0)) -v c=$((c1 - c0)) -v b="$n" -v u="$bu" -v s="$bs" -v br="$br" -v bw="$bw" 'BEGIN {
  if (b > 0) printf "per tx     server: %.1f read + %.1f write syscalls, %.1f context switches; load generator (and its RM): %.0f µs CPU, %.1f read + %.1f write syscalls\n", r/b, w/b, c/b, 1e6*(u+s)/b, br/b, bw/b }' >&2
if [ -n "${BENCH_WATCH_PID:-}" ]; then
  awk -v d="$(awk -v a="$watch_after" -v b="$watch_before" 'BEGIN {print a - b}')" -v b="$n" 'BEGIN {
    printf "watched    process %s and children: %.2f s of CPU", ENVIRON["BENCH_WATCH_PID"], d
    if (b > 0) printf ", %.0f µs per transaction", 1e6*d/b
    printf "\n" }' >&2
fi
printf '%s\n' "${json%\}},\"store\":\"$store\",\"nodes\":$nodes}"
