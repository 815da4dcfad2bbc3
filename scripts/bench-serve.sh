#!/usr/bin/env bash
# What `mwscope serve` costs, as deployed (default options), measured in one
# run (part of make bench; alone: sudo bash scripts/bench-serve.sh build):
#   1. idle: BENCH_SERVE_TARGETS (10) allocserver targets (MemProfileRate
#      524288, Go's default), serve -p on all of them in the default mode;
#      over BENCH_SERVE_IDLE_SECONDS (60) once every target is up: serve's
#      CPU in % of one core (target <= 1%) and its peak resident memory
#      (target <= 100 MiB + PER_TARGET_MIB per target, the amount we state).
#   2. scrapes: BENCH_SERVE_SCRAPES (50) GET /metrics of those 10 targets,
#      median and worst time (target: median <= 50 ms).
#   3. throughput: one allocserver saturated by loadgen, rounds alternating
#      without serve and with serve attached to it (and to the 9 others);
#      the median of each round's paired ratio (target >= 0.98).
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=${BENCH_MWSCOPE:-$BUILD/mwscope}
SERVER=$BUILD/fixtures/allocserver
LOADGEN=$BUILD/fixtures/loadgen
TARGETS=${BENCH_SERVE_TARGETS:-10}
IDLE=${BENCH_SERVE_IDLE_SECONDS:-60}
SCRAPES=${BENCH_SERVE_SCRAPES:-50}
ROUNDS=${BENCH_SERVE_ROUNDS:-5}
SECS=${BENCH_SERVE_SECONDS:-20}
CONC=${BENCH_HTTP_CONCURRENCY:-8}
PER_TARGET_MIB=12
HZ=$(getconf CLK_TCK)

[ "$(id -u)" -eq 0 ] || { echo "bench: attaching probes needs root; run: sudo make bench" >&2; exit 1; }
work=$(mktemp -d)
pids=()
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/fixture-server.sh"
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ports=()
for i in $(seq "$TARGETS"); do
  start_fixture_server "$work/server$i.out" "$SERVER" -memprofilerate 524288 || exit 1
  pids+=("$SERVER_PID")
  ports+=("$SERVER_PORT")
done
loaded_pid=${pids[0]}
loaded_url=http://127.0.0.1:${ports[0]}/work

# start_serve: serve -p on every target, waits for "serving", sets serve_pid and listen.
start_serve() {
  listen=127.0.0.1:$(free_port)
  local args=()
  for p in "${pids[@]}"; do args+=(-p "$p"); done
  "$MWSCOPE" serve --listen "$listen" "${args[@]}" 2>"$work/serve.err" &
  serve_pid=$!
  wait_for_line "$work/serve.err" "serving http" "$serve_pid" 1200 && return 0
  echo "bench: mwscope serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1
}
stop_serve() { kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=""; }

echo "bench: mwscope serve as deployed (default mode, --refresh 15) on $TARGETS allocserver targets (MemProfileRate 524288)"
start_serve
sleep 2
c0=$(proc_ticks "$serve_pid")
sleep "$IDLE"
c1=$(proc_ticks "$serve_pid")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$serve_pid/status")   # KiB
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$serve_pid/status")
awk -v c="$((c1 - c0))" -v hz="$HZ" -v s="$IDLE" -v hwm="$hwm" -v rss="$rss" -v n="$TARGETS" -v per="$PER_TARGET_MIB" 'BEGIN {
  cpu = 100 * c / hz / s; budget = 100 + per * n
  printf "  idle %d s: serve %.2f%% of one core (target <= 1%%): %s\n", s, cpu, (cpu <= 1 ? "PASS" : "FAIL")
  printf "  memory: resident %.0f MiB, peak %.0f MiB (target <= 100 MiB + %d MiB per target = %d MiB): %s\n",
         rss / 1024, hwm / 1024, per, budget, (hwm / 1024 <= budget ? "PASS" : "FAIL")
}'

: >"$work/scrapes"
for _ in $(seq "$SCRAPES"); do
  curl -s -o /dev/null -w '%{time_total}\n' "http://$listen/metrics" >>"$work/scrapes"
done
series=$(curl -s "http://$listen/metrics" | grep -vc '^#')
scrape_ms=$(awk '{ print 1000 * $1 }' "$work/scrapes" | median)
worst_ms=$(awk '{ print 1000 * $1 }' "$work/scrapes" | sort -g | tail -n1)
awk -v m="$scrape_ms" -v w="$worst_ms" -v n="$SCRAPES" -v s="$series" 'BEGIN {
  printf "  GET /metrics (%d series), %d scrapes: median %.1f ms, worst %.1f ms (target: median <= 50 ms): %s\n",
         s, n, m, w, (m <= 50 ? "PASS" : "FAIL")
}'
stop_serve

echo "bench: throughput of a saturated target with and without serve, $ROUNDS paired rounds of ${SECS}s (loadgen -c $CONC on /work)"
"$LOADGEN" -url "$loaded_url" -n 0 -duration 2s -c "$CONC" >/dev/null   # warm-up, not measured
rps() { sed -n 's/.*"rps": *\([0-9.e+]*\).*/\1/p' "$1" | tail -1; }
: >"$work/ratios"
for round in $(seq "$ROUNDS"); do
  "$LOADGEN" -url "$loaded_url" -n 0 -duration "${SECS}s" -c "$CONC" >"$work/none.load" 2>/dev/null || true
  start_serve
  "$LOADGEN" -url "$loaded_url" -n 0 -duration "${SECS}s" -c "$CONC" >"$work/serve.load" 2>/dev/null || true
  stop_serve
  a=$(rps "$work/none.load"); b=$(rps "$work/serve.load")
  awk -v a="$a" -v b="$b" -v r="$round" 'BEGIN { printf "  round %d: %7.0f req/s alone, %7.0f with serve: %.3f\n", r, a, b, b / a }'
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f\n", b / a }' >>"$work/ratios"
done
ratio=$(median <"$work/ratios")
awk -v r="$ratio" 'BEGIN { printf "  verdict: median paired ratio %.3f (target >= 0.98): %s\n", r, (r >= 0.98 ? "PASS" : "FAIL") }'
