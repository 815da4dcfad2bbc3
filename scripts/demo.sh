#!/usr/bin/env bash
# make demo: start the demo Go server (a net/http middleware chain from
# tests/fixtures/allocserver), drive bounded loopback load at it, attach
# mwscope for ~10 s in its default (sampled) mode, print the report, write
# demo.folded and demo.json. The server samples one allocation per 4 KiB
# (runtime.MemProfileRate = 4096, finer than Go's 512 KiB default) so that
# a 10 s demo has thousands of samples; --requests adds per-request figures.
set -euo pipefail
BUILD=${1:-build}
MWSCOPE=$BUILD/mwscope
FIX=$BUILD/fixtures
SECONDS_TO_RECORD=${DEMO_SECONDS:-10}

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: attaching probes needs root; run: sudo make demo" >&2
  exit 1
fi

. "$(dirname "$0")/fixture-server.sh"
workdir=$(mktemp -d)
trap cleanup_fixtures EXIT

start_fixture_server "$workdir/server.out" "$FIX/allocserver" -memprofilerate 4096 || exit 1
PORT=$SERVER_PORT
echo "demo: server PID $SERVER_PID on 127.0.0.1:$PORT; load: 8 keep-alive connections on /work and /health" >&2

# Load for a little longer than the recording, so the whole window sees traffic.
"$FIX/loadgen" -url "http://127.0.0.1:$PORT/work,http://127.0.0.1:$PORT/health" -n 0 -c 8 \
  -duration "$((SECONDS_TO_RECORD + 4))s" >"$workdir/load.out" 2>&1 &
LOAD_PID=$!
sleep 1

echo "demo: sudo $MWSCOPE -p $SERVER_PID -d $SECONDS_TO_RECORD --requests --folded demo.folded --json demo.json" >&2
"$MWSCOPE" -p "$SERVER_PID" -d "$SECONDS_TO_RECORD" --requests --folded demo.folded --json demo.json
wait "$LOAD_PID" || true
LOAD_PID=
echo "demo: load generator: $(cat "$workdir/load.out")" >&2
echo "demo: flame graph input in demo.folded (flamegraph.pl, inferno, speedscope); profile in demo.json" >&2
