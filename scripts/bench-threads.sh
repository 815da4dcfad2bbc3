#!/usr/bin/env bash
# What --threads costs the target per thread created and exited, side by
# side in one run (part of make bench; alone: sudo bash scripts/bench-threads.sh build).
#
# One cthreads process (plain C) creates and joins BENCH_THREADS threads per
# round, BENCH_ROUNDS rounds without mwscope and as many with
# `mwscope --threads` attached, interleaved (none, threads, none, ...) so
# that drift of the machine hits both alike. The probes are the kernel
# tracepoints task:task_newtask and sched:sched_process_exit: no trap in the
# target's code, the BPF programs run inside its clone and exit, so the cost
# shows in the loop's own time, and in the process's CPU time (all its
# threads, ended ones included), which other work on a shared machine
# disturbs less than wall time. Medians of ns per thread.
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=$BUILD/mwscope
CT=$BUILD/fixtures/cthreads
K=${BENCH_THREADS:-5000}
ROUNDS=${BENCH_THREAD_ROUNDS:-9}

[ "$(id -u)" -eq 0 ] || { echo "bench: attaching probes needs root; run: sudo make bench" >&2; exit 1; }
work=$(mktemp -d)
mkfifo "$work/in"
"$CT" 0 <"$work/in" >"$work/out" 2>&1 &
ct_pid=$!
exec 8>"$work/in"
trap 'exec 8>&- 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q ready "$work/out" && break; sleep 0.05; done

# churn: one round of K create+join in the target; prints its wall and CPU ns per thread.
churn() {
  local before
  before=$(grep -c churned "$work/out" || true)
  echo "churn $K" >&8
  for _ in $(seq 1200); do [ "$(grep -c churned "$work/out" || true)" -gt "$before" ] && break; sleep 0.05; done
  grep churned "$work/out" | tail -1 | awk -v k="$K" '{ print $4 / k, $7 / k }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench: cost per OS thread created and exited (--threads), $ROUNDS interleaved rounds of $K (medians)"
: >"$work/none"; : >"$work/threads"
for r in $(seq "$ROUNDS"); do
  churn >>"$work/none"
  "$MWSCOPE" -p "$ct_pid" --threads --json "$work/t$r.json" >/dev/null 2>"$work/t$r.err" &
  mw_pid=$!
  for _ in $(seq 200); do grep -q attached "$work/t$r.err" 2>/dev/null && break; sleep 0.05; done
  grep -q attached "$work/t$r.err" || { cat "$work/t$r.err" >&2; exit 1; }
  churn >>"$work/threads"
  kill -INT "$mw_pid"
  wait "$mw_pid"
done
created=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['threads']; print(t['created'], t['exited'], t['dropped'])" "$work/t$ROUNDS.json")
col() { cut -d' ' -f"$1" "$2" | median; }
awk -v none="$(col 1 "$work/none")" -v with="$(col 1 "$work/threads")" \
    -v cnone="$(col 2 "$work/none")" -v cwith="$(col 2 "$work/threads")" -v seen="$created" -v k="$K" 'BEGIN {
  split(seen, s, " ")
  printf "  %-22s %9.0f ns/thread wall  %9.0f ns/thread CPU\n", "no probe", none, cnone
  printf "  %-22s %9.0f ns/thread wall  %9.0f ns/thread CPU\n", "mwscope --threads", with, cwith
  printf "  added: %+.0f ns wall (ratio %.2f), %+.0f ns CPU (ratio %.2f) per thread created and exited\n",
         with - none, with / none, cwith - cnone, cwith / cnone
  printf "  last round: %d of %d threads seen created, %d exited, %d events dropped\n", s[1], k, s[2], s[3]
}'
