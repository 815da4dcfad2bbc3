#!/usr/bin/env bash
# make soak, part 2: `mwscope serve --discover` through its targets' life
# cycles. RESTARTS times a served allocserver (under load) is ended, by
# SIGTERM (a restart) or SIGKILL (a crash) in turn, and a new one started;
# a scraper GETs /metrics and the heap profile of a live target ten times a
# second throughout, during attach and detach alike; every SERVE_KILLS-th
# cycle serve itself is killed with SIGKILL and started again. Checks:
#   - every new server is attached within 2 s of listening;
#   - no series of a dead PID 5 s after it died;
#   - every /metrics scrape answered 200;
#   - after each kill -9 of serve and at the end (SIGTERM, exit 0), no BPF
#     program of mwscope (on_*) is left loaded;
#   - the server that ran throughout never died and no request failed.
# soak-serve.sh BUILD [RESTARTS] [SERVE_KILLS]   (defaults 20 and 5)
set -euo pipefail
BUILD=${1:-build}
RESTARTS=${2:-20}
SERVE_KILLS=${3:-5}
MWSCOPE=$BUILD/mwscope
FIX=$BUILD/fixtures

fail() {
  echo "soak-serve: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "attaching probes needs root; run: sudo make soak"
. "$(dirname "$0")/fixture-server.sh"
workdir=$(mktemp -d)
serve_pid="" scraper_pid="" churn_pid=""
cleanup() {
  for p in $scraper_pid $serve_pid $churn_pid; do kill "$p" 2>/dev/null || true; done
  cleanup_fixtures
}
trap cleanup EXIT

. "$(dirname "$0")/bpf-programs.sh"
# The kernel frees a program a moment after its last link closes.
wait_none_loaded() {
  for _ in $(seq 100); do
    [ "$(our_progs_since "$since")" -eq 0 ] && return 0
    sleep 0.1
  done
  return 1
}
since=$(newest_prog_id)
since=${since:-0}
listen=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start_serve() {
  "$MWSCOPE" serve --listen "$listen" --discover --discover-exe 'fixtures/allocserver$' --refresh 1 \
    2>>"$workdir/serve.err" &
  serve_pid=$!
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://$listen/metrics" && return 0
    sleep 0.05
  done
  fail "serve did not start: $(tail -n3 "$workdir/serve.err")"
}
held() { curl -s "http://$listen/metrics" | grep -q "mwscope_target_up{pid=\"$1\""; }

# The server that runs throughout, under load.
start_fixture_server "$workdir/server.out" "$FIX/allocserver" -memprofilerate 4096 || exit 1
steady_pid=$SERVER_PID
"$FIX/loadgen" -url "http://127.0.0.1:$SERVER_PORT/work" -n 0 -c 4 -duration 3600s >"$workdir/load.out" 2>&1 &
LOAD_PID=$!
start_serve

# Ten scrapes a second of /metrics and of the steady server's heap profile.
(
  while :; do
    state=up
    [ -e "$workdir/down" ] && state=down  # serve killed on purpose, not yet back
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$listen/metrics" || true)
    [ -e "$workdir/down" ] && state=down
    echo "metrics $code $state"
    code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$listen/debug/pprof/heap?pid=$steady_pid" || true)
    echo "heap $code"
    sleep 0.1
  done
) >"$workdir/scrapes" 2>/dev/null &
scraper_pid=$!

slow_attach=0 stale_series=0 serve_kills=0 left_after_kill=0
for i in $(seq 1 "$RESTARTS"); do
  start_fixture_server "$workdir/churn.out" "$FIX/allocserver" -memprofilerate 4096 || exit 1
  churn_pid=$SERVER_PID
  SERVER_PID=$steady_pid
  listening=$(date +%s.%N)
  until held "$churn_pid"; do
    sleep 0.05
    if awk -v a="$listening" -v b="$(date +%s.%N)" 'BEGIN { exit !(b - a > 10) }'; then break; fi
  done
  took=$(awk -v a="$listening" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  awk -v t="$took" 'BEGIN { exit !(t > 2) }' && { slow_attach=$((slow_attach + 1)); echo "soak-serve: cycle $i: attached after ${took}s" >&2; }
  "$FIX/loadgen" -url "http://127.0.0.1:$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$workdir/churn.out")/work" \
    -n 200 -c 2 >/dev/null 2>&1 || true
  if [ $((i % 2)) -eq 0 ]; then kill -KILL "$churn_pid"; else kill -TERM "$churn_pid"; fi
  wait "$churn_pid" 2>/dev/null || true
  sleep 5
  held "$churn_pid" && { stale_series=$((stale_series + 1)); echo "soak-serve: cycle $i: series of $churn_pid after 5 s" >&2; }
  churn_pid=""
  if [ $((i % (RESTARTS / SERVE_KILLS > 0 ? RESTARTS / SERVE_KILLS : 1))) -eq 0 ]; then
    touch "$workdir/down"
    kill -KILL "$serve_pid"
    wait "$serve_pid" 2>/dev/null || true
    serve_kills=$((serve_kills + 1))
    wait_none_loaded || { left_after_kill=$((left_after_kill + 1)); echo "soak-serve: programs left after kill -9 of serve" >&2; }
    start_serve
    rm -f "$workdir/down"
  fi
  kill -0 "$steady_pid" 2>/dev/null || fail "the steady server died in cycle $i: $(tail -n 30 "$workdir/server.out")"
done

kill "$scraper_pid"; wait "$scraper_pid" 2>/dev/null || true; scraper_pid=""
kill -TERM "$serve_pid"
serve_status=0
wait "$serve_pid" || serve_status=$?
serve_pid=""
left=0
wait_none_loaded || left=$(our_progs_since "$since")
kill -INT "$LOAD_PID" 2>/dev/null || true
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=
errors=$(sed -n 's/.*"errors": *\([0-9]*\).*/\1/p' "$workdir/load.out" | head -n1)
scrapes=$(grep -c '^metrics .* up$' "$workdir/scrapes" || true)
bad_scrapes=$(grep '^metrics .* up$' "$workdir/scrapes" | grep -vc ' 200 up$' || true)
heap_ok=$(grep -c '^heap 200$' "$workdir/scrapes" || true)

echo "soak-serve: $RESTARTS served servers ended (SIGTERM and SIGKILL in turn): $slow_attach attached later than 2 s, $stale_series with series 5 s after death"
echo "soak-serve: $scrapes /metrics scrapes while serve ran, $bad_scrapes not 200; $heap_ok heap profiles pulled"
{ grep '^metrics .* up$' "$workdir/scrapes" | grep -v ' 200 up$' | sort | uniq -c | head -5; } || true
echo "soak-serve: serve killed with SIGKILL $serve_kills times: $left_after_kill left programs loaded; SIGTERM at the end: exit $serve_status, $left left"
echo "soak-serve: steady server alive, its requests failed: ${errors:-?}"
[ "$slow_attach" -eq 0 ] && [ "$stale_series" -eq 0 ] && [ "$bad_scrapes" -eq 0 ] && [ "$left_after_kill" -eq 0 ] &&
  [ "$serve_status" -eq 0 ] && [ "$left" -eq 0 ] && [ "${errors:-1}" -eq 0 ] && [ "$heap_ok" -gt 0 ] || fail "FAILED"
echo "soak-serve: PASS"
