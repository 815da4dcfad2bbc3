#!/usr/bin/env bash
# make bench: what mwscope costs the target, measured side by side in one run.
#
# 1. Cost per allocation (exact mode): allocbench times a loop of N
#    allocations with no probe, with an empty BPF program on the same probe
#    (the bare uprobe trap), and with mwscope recording. Medians over rounds.
# 2. Cost per goroutine (spawn + exit probes only, --no-allocs): the same
#    three-way comparison on a loop that starts and ends goroutines.
# 3. Pipeline throughput: allocbench allocates as fast as it can on every
#    core while mwscope records; events/s and drops, from mwscope's profile.
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=$BUILD/mwscope
BENCH=$BUILD/fixtures/allocbench
N=${BENCH_ALLOCS:-100000}
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_STRESS_SECONDS:-5}

[ "$(id -u)" -eq 0 ] || { echo "bench: attaching probes needs root; run: sudo make bench" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# run LABEL "ALLOCBENCH ARGS" [MWSCOPE ARGS...]: starts allocbench paused,
# attaches mwscope when args are given, releases allocbench, waits for it,
# then stops mwscope (its profile goes to $work/LABEL.json).
run() {
  local label=$1 bench_args=$2; shift 2
  mkfifo "$work/$label.in"
  # shellcheck disable=SC2086
  "$BENCH" -wait-stdin $bench_args <"$work/$label.in" >"$work/$label.out" 2>&1 &
  local bench_pid=$!
  exec 7>"$work/$label.in"
  for _ in $(seq 100); do grep -q "ready" "$work/$label.out" && break; sleep 0.05; done
  local mw_pid=
  if [ $# -gt 0 ]; then
    "$MWSCOPE" -p "$bench_pid" "$@" --json "$work/$label.json" >"$work/$label.report" 2>"$work/$label.err" &
    mw_pid=$!
    for _ in $(seq 200); do grep -q "attached" "$work/$label.err" && break; sleep 0.05; done
    grep -q "attached" "$work/$label.err" || { cat "$work/$label.err" >&2; exit 1; }
  fi
  echo go >&7
  exec 7>&-
  wait "$bench_pid"
  if [ -n "$mw_pid" ]; then kill -INT "$mw_pid"; wait "$mw_pid"; fi
}
field() { sed -n "s/.*\"$2\": *\([0-9.e+]*\).*/\1/p" "$1" | tail -1; }

echo "bench: cost per allocation, $ROUNDS rounds of $N allocations of 64 B (medians)"
run none "-n $N -rounds $ROUNDS"
run empty "-n $N -rounds $ROUNDS" --bench-empty-program
run exact "-n $N -rounds $ROUNDS" --mode exact
awk -v none="$(field "$work/none.out" median_ns_per_alloc)" \
    -v empty="$(field "$work/empty.out" median_ns_per_alloc)" \
    -v exact="$(field "$work/exact.out" median_ns_per_alloc)" \
    -v ev="$(field "$work/exact.json" events)" -v dr="$(field "$work/exact.json" dropped_events)" 'BEGIN {
  printf "  %-32s %9.0f ns/alloc\n", "no probe", none
  printf "  %-32s %9.0f ns/alloc  (+%.0f ns: the bare uprobe trap)\n", "empty BPF program on mallocgc", empty, empty - none
  printf "  %-32s %9.0f ns/alloc  (+%.0f ns)\n", "mwscope --mode exact", exact, exact - none
  printf "  ratio exact/empty (added cost): %.2f; our BPF + userspace work adds %.0f ns per allocation\n",
         (exact - none) / (empty - none), exact - empty
  printf "  events received %d, dropped %d\n", ev, dr
}'

echo "bench: cost per goroutine spawned and ended, $ROUNDS rounds of $N (medians; allocator not probed)"
run gnone "-spawn -n $N -rounds $ROUNDS"
run gempty "-spawn -n $N -rounds $ROUNDS" --no-allocs --bench-empty-program
run gtasks "-spawn -n $N -rounds $ROUNDS" --no-allocs
awk -v none="$(field "$work/gnone.out" median_ns_per_op)" \
    -v empty="$(field "$work/gempty.out" median_ns_per_op)" \
    -v tasks="$(field "$work/gtasks.out" median_ns_per_op)" \
    -v ev="$(field "$work/gtasks.json" events)" -v dr="$(field "$work/gtasks.json" dropped_events)" 'BEGIN {
  printf "  %-32s %9.0f ns/goroutine\n", "no probe", none
  printf "  %-32s %9.0f ns/goroutine  (+%.0f ns: two bare uprobe traps)\n", "empty BPF programs (spawn, exit)", empty, empty - none
  printf "  %-32s %9.0f ns/goroutine  (+%.0f ns)\n", "mwscope --no-allocs", tasks, tasks - none
  printf "  ratio mwscope/empty (added cost): %.2f; our work adds %.0f ns per goroutine\n",
         (tasks - none) / (empty - none), tasks - empty
  printf "  events received %d, dropped %d\n", ev, dr
}'

G=$(nproc)
echo "bench: pipeline throughput, $G goroutines allocating as fast as they can for ${SECS}s"
run stress "-stress $SECS -goroutines $G" --mode exact
awk -v allocs="$(field "$work/stress.out" allocs)" -v secs="$(field "$work/stress.out" seconds)" \
    -v ev="$(field "$work/stress.json" events)" -v dr="$(field "$work/stress.json" dropped_events)" \
    -v dur="$(field "$work/stress.json" duration_s)" 'BEGIN {
  printf "  target allocations %d in %.1f s (%.0f/s under the probe)\n", allocs, secs, allocs / secs
  printf "  mwscope events %d, dropped %d: %.0f events/s through the pipeline over the run\n", ev, dr, ev / secs
}'

# 4. Symbol loading: what mwscope does with a big stripped Go binary after a
#    recording (open, build info, .gopclntab parse, 10,000 pcs symbolized,
#    the first lookup by name). The binary is the Go toolchain's own compiler
#    (cmd/compile, ~16 MB with -s -w), built with the machine's Go; set
#    BENCH_SYMBOLS_BINARY to measure another one. Budget: 300 ms (median).
SYM_BUDGET_MS=300
SYM_BIN=${BENCH_SYMBOLS_BINARY:-$BUILD/bench/gocompile_stripped}
if [ -z "${BENCH_SYMBOLS_BINARY:-}" ] && [ ! -x "$SYM_BIN" ]; then
  echo "bench: building cmd/compile with -ldflags='-s -w' into $SYM_BIN"
  mkdir -p "$(dirname "$SYM_BIN")"
  # Absolute paths first: the build runs from / (cmd/compile is a standard
  # package path, not one relative to this checkout).
  go_cache=$(realpath -m "$BUILD/go-cache")
  sym_out=$(realpath -m "$SYM_BIN")
  (cd / && env GOFLAGS= GOCACHE="$go_cache" go build -ldflags="-s -w" -o "$sym_out" cmd/compile)
fi
sym_bytes=$(stat -c %s "$SYM_BIN")
echo "bench: symbol loading of $SYM_BIN ($(awk -v b="$sym_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'))"
"$BUILD/bench_symbols" "$SYM_BIN" "${BENCH_SYMBOL_REPS:-7}" 10000 | tee "$work/symbols.out" | sed 's/^/  /'
sym_ms=$(sed -n 's/^median_total_ms //p' "$work/symbols.out")
if awk -v t="$sym_ms" -v b="$SYM_BUDGET_MS" 'BEGIN { exit !(t < b) }'; then
  echo "  verdict: median total $sym_ms ms < $SYM_BUDGET_MS ms: PASS"
else
  echo "  verdict: median total $sym_ms ms >= $SYM_BUDGET_MS ms: FAIL"
  exit 1
fi
