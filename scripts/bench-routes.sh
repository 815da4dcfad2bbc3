#!/usr/bin/env bash
# What --by-route costs a saturated HTTP server, side by side in the same
# rounds (part of make bench; alone: sudo bash scripts/bench-routes.sh build).
#
# Target: routemux (net/http.ServeMux with Go 1.22+ patterns, built by the
# newest Go of the matrix; -rate 524288, Go's default sampling) loaded by
# loadgen on GET /items/{id} with BENCH_HTTP_CONCURRENCY (8) keep-alive
# connections for BENCH_ROUTE_SECONDS (5) per mode, BENCH_ROUTE_ROUNDS (3)
# interleaved rounds of: no profiler; exact mode with empty BPF programs
# (the bare traps) and for real, each without and with --by-route; sampled
# mode without and with --by-route. Server CPU per request from
# /proc/PID/stat over each loaded window.
#
# Exact mode's budget is per allocation: (mwscope - none) / (bare traps -
# none) <= 1.3, the ratio section 1 measures on a loop, here per request of a
# real server (the same allocations in each mode); with --by-route the bare
# traps include the request and route probes. Sampled mode: what --by-route
# adds per request, and the traps it adds per request (target <= 1): route
# events, plus request-probe hits if it ran, over the requests loadgen sent.
# Then one window each of exact mode's bare traps, exact mode and exact
# --by-route with kernel.bpf_stats_enabled=1 (restored after): the kernel
# time on_mallocgc adds per allocation to the empty program's, against the
# bare trap's cost per trap (the rounds' CPU over no profiler, per trap
# counted in that window).
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=${BENCH_MWSCOPE:-$BUILD/mwscope}
LOADGEN=$BUILD/fixtures/loadgen
ROUNDS=${BENCH_ROUTE_ROUNDS:-3}
SECS=${BENCH_ROUTE_SECONDS:-5}
CONC=${BENCH_HTTP_CONCURRENCY:-8}
HZ=$(getconf CLK_TCK)
SERVER=${BENCH_ROUTE_SERVER:-}
if [ -z "$SERVER" ]; then
  for v in 27 26 25 24 23 22; do
    [ -x "$BUILD/fixtures/go1.$v/routemux" ] && { SERVER=$BUILD/fixtures/go1.$v/routemux; break; }
  done
fi
[ -n "$SERVER" ] || { echo "bench: no routemux built by Go 1.22+ (the Go matrix: MWS_GO_MATRIX=ON)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "bench: attaching probes needs root; run: sudo make bench" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "bench: bpftool is needed to read the programs' run times" >&2; exit 1; }
. "$(dirname "$0")/bpf-programs.sh"
bpf_stats_workdir

. "$(dirname "$0")/fixture-server.sh"
start_fixture_server "$work/server.out" "$SERVER" -rate 524288 || exit 1
url=http://127.0.0.1:$SERVER_PORT/items/17
"$LOADGEN" -url "$url" -n 0 -duration 2s -c "$CONC" >/dev/null   # warm-up, not measured

proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
field() { sed -n "s/.*\"$2\": *\([0-9.e+]*\).*/\1/p" "$1" | tail -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# round_mode LABEL ROUND [MWSCOPE ARGS...]: one loaded window; appends the
# server's CPU microseconds per request to $work/LABEL.us.
round_mode() {
  local label=$1 round=$2; shift 2
  local base=$work/${label}_$round mw_pid=""
  if [ $# -gt 0 ]; then
    start_mwscope "$base" -p "$SERVER_PID" "$@"
    mw_pid=$MW_PID
  fi
  local s0 s1
  s0=$(proc_ticks "$SERVER_PID")
  "$LOADGEN" -url "$url" -n 0 -duration "${SECS}s" -c "$CONC" >"$base.load" 2>&1 || true
  s1=$(proc_ticks "$SERVER_PID")
  if [ -n "$mw_pid" ]; then kill -INT "$mw_pid"; wait "$mw_pid"; fi
  local n
  n=$(field "$base.load" requests)
  awk -v s="$((s1 - s0))" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.3f\n", (n > 0 ? 1e6 * s / hz / n : 0) }' >>"$work/$label.us"
  printf "  round %d %-16s %8s requests  %6.1f us server CPU/request\n" "$round" "$label" "$n" "$(tail -1 "$work/$label.us")"
}

echo "bench: what --by-route costs ($SERVER -rate 524288, loadgen -c $CONC on GET /items/{id}, $ROUNDS interleaved rounds of ${SECS}s per mode)"
for round in $(seq "$ROUNDS"); do
  round_mode none "$round"
  round_mode empty "$round" --mode exact --bench-empty-program
  round_mode exact "$round" --mode exact
  round_mode empty_routes "$round" --mode exact --bench-empty-program --by-route
  round_mode exact_routes "$round" --mode exact --by-route
  round_mode sampled "$round" --mode sampled
  round_mode sampled_routes "$round" --mode sampled --by-route
done

# stats_mode LABEL [MWSCOPE ARGS...]: one loaded window with bpf_stats on;
# appends "LABEL alloc_runs alloc_ns all_runs all_ns requests objects" to
# $work/stats (objects: the allocations mwscope counted, the server idle
# outside the loaded window).
stats_mode() {
  local label=$1; shift
  local base=$work/stats_$label
  start_mwscope "$base" -p "$SERVER_PID" "$@"
  prog_stats "$MW_PID" >"$base.before"
  "$LOADGEN" -url "$url" -n 0 -duration "${SECS}s" -c "$CONC" >"$base.load" 2>&1 || true
  prog_stats "$MW_PID" >"$base.after"
  kill -INT "$MW_PID"
  wait "$MW_PID"
  join "$base.before" "$base.after" | awk -v l="$label" -v n="$(field "$base.load" requests)" \
    -v o="$(jq '.totals.objects // 0' "$base.json")" '
    { dn = $4 - $2; dt = $5 - $3; all_n += dn; all_t += dt; if ($1 == "on_mallocgc") { an = dn; at = dt } }
    END { printf "%s %d %d %d %d %d %d\n", l, an, at, all_n, all_t, n, o }' >>"$work/stats"
}
sysctl -q -w kernel.bpf_stats_enabled=1
stats_mode empty --mode exact --bench-empty-program
stats_mode exact --mode exact
stats_mode exact_routes --mode exact --by-route
sysctl -q -w kernel.bpf_stats_enabled="$BPF_STATS_BEFORE"

# Each round's ratios, then their median: the VM drifts between rounds.
for round in $(seq "$ROUNDS"); do
  v() { sed -n "${round}p" "$work/$1.us"; }
  awk -v n="$(v none)" -v e="$(v empty)" -v x="$(v exact)" -v er="$(v empty_routes)" -v xr="$(v exact_routes)" \
      -v s="$(v sampled)" -v sr="$(v sampled_routes)" \
      'BEGIN { printf "%f %f %f %f %f\n", (x - n) / (e - n), (xr - n) / (er - n), xr - x, sr - s, (xr - n) / (x - n) }'
done >"$work/ratios"
exact_ratio=$(cut -d' ' -f1 "$work/ratios" | median)
routes_ratio=$(cut -d' ' -f2 "$work/ratios" | median)
exact_added=$(cut -d' ' -f3 "$work/ratios" | median)
sampled_added=$(cut -d' ' -f4 "$work/ratios" | median)
routes_over_exact=$(cut -d' ' -f5 "$work/ratios" | median)
route_events=$(sed -n 's/.*"route_events": *\([0-9]*\).*/\1/p' "$work/sampled_routes_1.json" | tail -1)
# The request probe's hits, when it ran (sampled --by-route names requests by key without it).
probe_hits=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])).get("requests") or {}; print(r.get("requests", 0) if r.get("counted", "requests" in r) else 0)' "$work/sampled_routes_1.json")
sent=$(field "$work/sampled_routes_1.load" requests)
allocs=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(p["meta"]["events"] / max(1, p["requests"]["requests"]))' "$work/exact_routes_1.json")
awk -v xr="$exact_ratio" -v rr="$routes_ratio" -v xa="$exact_added" -v sa="$sampled_added" -v a="$allocs" -v ro="$routes_over_exact" \
    -v re="${route_events:-0}" -v ph="${probe_hits:-0}" -v rq="${sent:-0}" -v conc="$CONC" 'BEGIN {
  printf "  exact mode over its bare traps, per request (%.0f allocations each; the target is per allocation, below): %.2f without routes, %.2f with --by-route\n",
         a, xr, rr
  printf "  --by-route adds %.1f us per request in exact mode (%.0f ns per allocation; exact mode costs x%.2f as much over no profiler), %.1f us per request in sampled mode\n",
         xa, (a > 0 ? 1000 * xa / a : 0), ro, sa
  t = (rq > 0 ? (re + ph) / rq : 0)
  printf "  sampled --by-route: %d route traps + %d request-probe traps for %d requests: %.2f traps per request (target <= 1): %s\n",
         re, ph, rq, t, (re + ph <= rq + conc ? "PASS" : "FAIL")
}'

# Per allocation: the bare trap's cost per trap (the rounds' medians over no
# profiler, divided by the traps per request the empty window counted)
# against what an allocation costs in exact mode: its traps (on_mallocgc's
# runs per allocation counted: more than one where an allocator entry point
# is reached through another) and what on_mallocgc's kernel time adds to
# the empty program's in each (bpf_stats counts its own clock reads into
# every run).
none_us=$(median <"$work/none.us")
empty_us=$(median <"$work/empty.us")
awk -v none="$none_us" -v empty="$empty_us" '
  { runs[$1] = $2; ns[$1] = $3; all[$1] = $4; allns[$1] = $5; req[$1] = $6; objs[$1] = $7 }
  END {
    traps = (req["empty"] > 0 ? all["empty"] / req["empty"] : 0)
    bare = (traps > 0 ? 1000 * (empty - none) / traps : 0)
    x = (runs["exact"] > 0 ? ns["exact"] / runs["exact"] : 0)
    xr = (runs["exact_routes"] > 0 ? ns["exact_routes"] / runs["exact_routes"] : 0)
    # The empty program run time: bpf_stats clock reads and the target
    # check, which every program run counts and the bare trap holds already.
    e = (all["empty"] > 0 ? allns["empty"] / all["empty"] : 0)
    t = (objs["exact"] > 0 ? runs["exact"] / objs["exact"] : 0)
    tr = (objs["exact_routes"] > 0 ? runs["exact_routes"] / objs["exact_routes"] : 0)
    if (bare <= 0) { print "  per allocation: the bare trap could not be measured"; exit }
    if (t <= 0 || tr <= 0) { print "  per allocation: the exact windows counted no allocation (see their .json)"; exit }
    printf "  per allocation (bpf_stats): the bare trap %.0f ns (%.1f traps per request); on_mallocgc %.0f ns a run without routes, %.0f ns with, the empty program %.0f ns; %.2f traps per allocation counted (%.2f with routes)\n",
           bare, traps, x, xr, e, t, tr
    r = t * (bare + x - e) / bare; rr = tr * (bare + xr - e) / bare
    printf "  exact mode per allocation over the bare trap: %.2f without routes, %.2f with --by-route (target <= 1.3): %s\n",
           r, rr, (rr <= 1.3 ? "PASS" : "FAIL")
  }' "$work/stats"
