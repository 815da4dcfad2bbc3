#!/usr/bin/env bash
# How often mwscope's default mode (--mode sampled, what a long-running agent
# runs around the clock) traps the target, against how often the Go
# runtime's own heap sampler records a sample, measured side by side in the
# same rounds (part of make bench; alone: sudo bash scripts/bench-traps.sh build).
#
# Target: allocserver with -memprofilerate 524288 (Go's default), loaded by
# loadgen on /work with BENCH_HTTP_CONCURRENCY (8) keep-alive connections for
# BENCH_TRAP_SECONDS (5) per round, BENCH_TRAP_ROUNDS (5) rounds, mwscope
# attached afresh for each. A uprobe hit runs its BPF program once, so with
# kernel.bpf_stats_enabled=1 (set for the run, restored after) each
# program's run_cnt (its fd's fdinfo in mwscope, named by `bpftool prog
# show`) counts the traps at its sites.
# Read before and after each loaded window, over mwscope's own programs:
#   sampler  = runs of on_mprof_malloc (runtime.mProf_Malloc: one per sample)
#   all      = runs of every program mwscope attached to the target
# Target: all / sampler <= 2 (median over rounds).
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=${BENCH_MWSCOPE:-$BUILD/mwscope}
SERVER=$BUILD/fixtures/allocserver
LOADGEN=$BUILD/fixtures/loadgen
ROUNDS=${BENCH_TRAP_ROUNDS:-5}
SECS=${BENCH_TRAP_SECONDS:-5}
CONC=${BENCH_HTTP_CONCURRENCY:-8}
RATE=524288

[ "$(id -u)" -eq 0 ] || { echo "bench: attaching probes needs root; run: sudo make bench" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "bench: bpftool is needed to read the programs' run counts" >&2; exit 1; }
. "$(dirname "$0")/bpf-programs.sh"
bpf_stats_workdir
sysctl -q -w kernel.bpf_stats_enabled=1

. "$(dirname "$0")/fixture-server.sh"
start_fixture_server "$work/server.out" "$SERVER" -memprofilerate "$RATE" || exit 1
url=http://127.0.0.1:$SERVER_PORT/work
"$LOADGEN" -url "$url" -n 0 -duration 2s -c "$CONC" >/dev/null   # warm-up, not measured

# run_counts PID: "name run_cnt" for every BPF program process PID holds.
run_counts() { prog_stats "$1" | awk '{ print $1, $2 }'; }

echo "bench: traps of mwscope --mode sampled vs the Go runtime's heap sampler (runtime.mProf_Malloc), side by side"
echo "  allocserver -memprofilerate $RATE, loadgen -c $CONC on /work, $ROUNDS rounds of ${SECS}s, mwscope attached afresh each round"
for round in $(seq "$ROUNDS"); do
  base=$work/r$round
  : >"$base.err"
  start_mwscope "$base" -p "$SERVER_PID" --mode sampled
  mw_pid=$MW_PID
  run_counts "$mw_pid" >"$base.before"
  t0=$(date +%s.%N)
  "$LOADGEN" -url "$url" -n 0 -duration "${SECS}s" -c "$CONC" >"$base.load" 2>&1 || true
  t1=$(date +%s.%N)
  run_counts "$mw_pid" >"$base.after"
  kill -INT "$mw_pid"
  wait "$mw_pid"
  # One line per round: seconds, sampler hits, all hits, then name=hits per program.
  join "$base.before" "$base.after" | awk -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
    { d = $3 - $2; all += d; if ($1 == "on_mprof_malloc") s = d; if (d > 0) per = per sprintf(" %s=%d", $1, d) }
    END { printf "%.3f %d %d%s\n", secs, s, all, per }' >"$base.counts"
  read -r secs sampler all per <"$base.counts"
  awk -v r="$round" -v secs="$secs" -v s="$sampler" -v a="$all" -v per="$per" 'BEGIN {
    printf "  round %d  sampler %7.0f/s  mwscope traps %8.0f/s  ratio %6.2f  (%s )\n",
           r, s / secs, a / secs, (s > 0 ? a / s : "inf"), per
  }'
  awk -v secs="$secs" -v s="$sampler" -v a="$all" 'BEGIN { printf "%f %f %f\n", s / secs, a / secs, (s > 0 ? a / s : 1e9) }' \
    >>"$work/rates"
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
s_med=$(cut -d' ' -f1 "$work/rates" | median)
a_med=$(cut -d' ' -f2 "$work/rates" | median)
r_med=$(cut -d' ' -f3 "$work/rates" | median)
awk -v s="$s_med" -v a="$a_med" -v r="$r_med" 'BEGIN {
  printf "  medians: runtime sampler %.0f samples/s, mwscope --mode sampled %.0f traps/s, ratio %.2f per round\n", s, a, r
  printf "  verdict: mwscope traps %.2fx as often as the runtime sampler (target <= 2): %s\n", r, (r <= 2 ? "PASS" : "FAIL")
}'
