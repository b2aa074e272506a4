#!/usr/bin/env bash
# The coordinator against its floor: alternating runs of tc-2branch against
# txc-server (embedded store, --procs auto) and against txc-bench
# tc-floor-server (the same gRPC transport and protocol, one fdatasync per
# waited reply, no logic; GOMAXPROCS=1), same load generator, same figures,
# measured the same way from /proc over the whole run (warm-up included) and
# divided by the transactions begun in it.
#   FLOOR_CLIENTS (1), FLOOR_DURATION (5s), FLOOR_PAIRS (3)
#   FLOOR_SERVERS ("txc floor"): which to run in each pass, in order;
#     "floor-inline" is the floor syncing on the stream's reader
#   FLOOR_SYSCALLS=1  also counts every system call of the server with
#     perf stat -e raw_syscalls:sys_enter (adds its own cost to the CPU figure)
#   FLOOR_PERF=dir  records the server with perf record -g (one file per run) of
#     FLOOR_PERF_EVENT (default cpu-clock; sched:sched_switch shows what blocks)
#   FLOOR_SERVER_GODEBUG  GODEBUG of the servers only (not of the load generator)
#   FLOOR_PROCS  GOMAXPROCS of the floor server (1, as txc-server --procs auto at low load)
# One line per run, then nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

clients=${FLOOR_CLIENTS:-1}
duration=${FLOOR_DURATION:-5s}
pairs=${FLOOR_PAIRS:-3}
servers=${FLOOR_SERVERS:-txc floor}
data=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$data"
}
trap cleanup EXIT

# procstat pid: "cpu_ticks ctx_switches read_syscalls write_syscalls" so far.
procstat() {
  local ticks sw=0 t io
  ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
  for t in /proc/"$1"/task/*/status; do
    sw=$((sw + $(awk '/ctxt_switches/ {n+=$2} END {print n+0}' "$t" 2>/dev/null || echo 0)))
  done
  io=$(awk '/^syscr/ {r=$2} /^syscw/ {w=$2} END {print r+0, w+0}' "/proc/$1/io")
  echo "$ticks $sw $io"
}

# metric name admin_port: the sum of the metric's series.
metric() { curl -s "http://127.0.0.1:$2/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {n += $2} END {print n + 0}'; }

# start name port: starts the server; sets pid and admin.
start() {
  rm -rf "$data/run" && mkdir -p "$data/run"
  case "$1" in
    txc)
      admin=$(($2 + 1))
      env ${FLOOR_SERVER_GODEBUG:+GODEBUG=$FLOOR_SERVER_GODEBUG} bin/txc-server --data-dir "$data/run/store" --listen "127.0.0.1:$2" --admin-listen "127.0.0.1:$admin" \
        --log-level warn >"$data/run/server.out" 2>&1 &
      pid=$!
      wait_port "$admin" 30 ;;
    floor | floor-inline)
      local inline=false
      [ "$1" = floor-inline ] && inline=true
      env ${FLOOR_SERVER_GODEBUG:+GODEBUG=$FLOOR_SERVER_GODEBUG} GOMAXPROCS=${FLOOR_PROCS:-1} bin/txc-bench tc-floor-server --listen "127.0.0.1:$2" --dir "$data/run" --inline=$inline \
        >"$data/run/server.out" 2>&1 &
      pid=$!
      wait_port "$2" 30 ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
}

# stop name: stops the server; sets begun and syncs (of its run).
stop() {
  begun=0 syncs=0
  if [ "$1" = txc ]; then
    begun=$(metric txc_transactions_begun_total "$admin")
    syncs=$(metric txc_store_sync_seconds_count "$admin")
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
  if [ "$1" != txc ]; then
    read -r begun syncs < <(tail -n 1 "$data/run/server.out" | tr -c '0-9\n' ' ' | awk '{print $1, $2}')
  fi
}

run() { # name pass
  local port=$((20000 + RANDOM % 20000)) perfpid= before after json begun syncs
  start "$1" "$port"
  if [ "${FLOOR_SYSCALLS:-}" = 1 ]; then
    perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$data/run/perf.txt" &
    perfpid=$!
  elif [ -n "${FLOOR_PERF:-}" ]; then
    mkdir -p "$FLOOR_PERF"
    perf record -q -e "${FLOOR_PERF_EVENT:-cpu-clock}" -g -p "$pid" -o "$FLOOR_PERF/$1-$clients-$2.data" 2>/dev/null &
    perfpid=$!
  fi
  before=$(procstat "$pid")
  /usr/bin/time -f "%U %S" -o "$data/run/bench.time" bin/txc-bench tc-2branch --addr "127.0.0.1:$port" \
    --clients "$clients" --duration "$duration" >"$data/run/bench.out"
  after=$(procstat "$pid")
  [ -n "$perfpid" ] && { kill -INT "$perfpid"; wait "$perfpid" || true; }
  stop "$1"
  json=$(tail -n 1 "$data/run/bench.out")
  local calls=0
  [ -f "$data/run/perf.txt" ] && calls=$(awk -F, '/raw_syscalls/ {print $1}' "$data/run/perf.txt")
  read -r t0 s0 r0 w0 <<<"$before"
  read -r t1 s1 r1 w1 <<<"$after"
  read -r bu bs <"$data/run/bench.time"
  awk -v name="$1" -v b="$begun" -v y="$syncs" -v t=$((t1 - t0)) -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v w=$((w1 - w0)) \
    -v calls="$calls" -v u="$bu" -v ls="$bs" -v hz="$(getconf CLK_TCK)" -v json="$json" 'BEGIN {
    match(json, /"tx_per_sec":[0-9.]+/); tps = substr(json, RSTART + 13, RLENGTH - 13)
    match(json, /"p50_ms":[0-9.]+/); p50 = substr(json, RSTART + 9, RLENGTH - 9)
    sc = calls > 0 ? sprintf("%5.1f", calls / b) : "    -"
    printf "%-12s clients %-3d %6.0f tx/s  p50 %5.2f ms  server %4.0f µs/tx  %5.1f ctxsw/tx  %4.1f+%4.1f rd+wr/tx  %s syscalls/tx  %4.2f syncs/tx  loadgen %4.0f µs/tx\n",
      name, '"$clients"', tps, p50, 1e6 * t / hz / b, s / b, r / b, w / b, sc, y / b, 1e6 * (u + ls) / b }'
}

for ((i = 1; i <= pairs; i++)); do
  for s in $servers; do run "$s" "$i"; done
done
