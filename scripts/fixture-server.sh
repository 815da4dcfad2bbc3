# Sourced by demo.sh, soak.sh and bench.sh: starts a Go fixture server, and
# cleans up after it.
#
# start_fixture_server OUTFILE COMMAND [ARGS...]
#   Runs COMMAND in the background with its output in OUTFILE, waits (10 s at
#   most) for its "listening on 127.0.0.1:PORT" line, and sets SERVER_PID and
#   SERVER_PORT. Returns 1, with OUTFILE's text on stderr, if it does not
#   listen in time.
start_fixture_server() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    grep -q "listening on" "$out" && break
    sleep 0.05
  done
  SERVER_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
  if [ -z "$SERVER_PORT" ]; then
    echo "$1 did not start: $(cat "$out")" >&2
    return 1
  fi
}

# cleanup_fixtures: for `trap cleanup_fixtures EXIT`. Kills the load
# generator and the server (LOAD_PID, SERVER_PID) if they still run, waits
# for them, and removes $workdir.
cleanup_fixtures() {
  [ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null || true
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${workdir:-}" ] && rm -rf "$workdir"
  return 0
}

# start_mwscope BASE ARGS...: runs "$MWSCOPE ARGS... --json BASE.json" in the
# background (report in BASE.report, stderr in BASE.err), waits (20 s at
# most) for its "attached" line, and sets MW_PID; exits the script, with
# mwscope's stderr, if it does not attach.
start_mwscope() {
  local base=$1
  shift
  "$MWSCOPE" "$@" --json "$base.json" >"$base.report" 2>"$base.err" &
  MW_PID=$!
  wait_for_line "$base.err" "attached" "$MW_PID" 400 ||
    { echo "bench: mwscope $* did not attach:" >&2; cat "$base.err" >&2; exit 1; }
}

# wait_for_line FILE PATTERN PID TRIES: waits (TRIES x 50 ms at most) for a
# line of FILE matching PATTERN; returns 1 if process PID ends first or the
# time runs out.
wait_for_line() {
  for _ in $(seq "$4"); do
    grep -q "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.05
  done
  grep -q "$2" "$1"
}
