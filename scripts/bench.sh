#!/usr/bin/env bash
# make bench: starts a fresh txc-server on its embedded store (free ports,
# temporary data dir), runs txc-bench against it, stops the server.
#   BENCH_CLIENTS (64), BENCH_DURATION (10s), BENCH_SCENARIO (tc-2branch)
#   BENCH_ARGS  extra txc-bench flags for the scenario (e.g. "--wait-begin")
#   BENCH_PROFILE=dir  also writes the server's and the load generator's CPU profiles there
#   BENCH_SERVER_PROCS=n  runs the server with GOMAXPROCS=n (default: the runtime's choice)
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

server_env=()
[ -n "${BENCH_SERVER_PROCS:-}" ] && server_env=(env GOMAXPROCS="$BENCH_SERVER_PROCS")
"${server_env[@]}" bin/txc-server --data-dir "$data/store" --listen "127.0.0.1:$grpc_port" \
  --admin-listen "127.0.0.1:$admin_port" --log-level warn --pprof=true >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
wait_port "$admin_port" 30 || { cat "$log"; exit 1; }

extra=()
profiler=
if [ -n "${BENCH_PROFILE:-}" ]; then
  mkdir -p "$BENCH_PROFILE"
  extra+=(--cpuprofile "$BENCH_PROFILE/bench.cpu")
  secs=${duration%s}
  (sleep 3; curl -s -o "$BENCH_PROFILE/server.cpu" "http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$((secs > 4 ? secs - 2 : 2))") &
  profiler=$!
fi
echo "txc-server (embedded store) on 127.0.0.1:$grpc_port; $scenario, $clients clients, $duration"
bin/txc-bench "$scenario" --addr "127.0.0.1:$grpc_port" --clients "$clients" --duration "$duration" ${BENCH_ARGS:-} "${extra[@]}"
[ -n "$profiler" ] && wait "$profiler"
# Server-side figures go to stderr, so that stdout ends with txc-bench's JSON line.
echo "server after the run: $(curl -s "http://127.0.0.1:$admin_port/v1/stats" | tr -d ' \n')" >&2
curl -s "http://127.0.0.1:$admin_port/metrics" | awk '
  /^txc_store_sync_seconds_sum/ {ss=$2} /^txc_store_sync_seconds_count/ {sc=$2}
  /^txc_store_batch_items_sum/ {bs=$2}
  /^process_cpu_seconds_total/ {cpu=$2} /^txc_transactions_begun_total/ {begun+=$2}
  END { if (sc > 0) printf "store      %d synced batches, mean %.3f ms per sync, mean %.1f changes per batch\n", sc, 1000*ss/sc, bs/sc
        if (begun > 0) printf "server     %.1f s of CPU, %.0f µs per transaction begun (%d)\n", cpu, 1e6*cpu/begun, begun }' >&2

