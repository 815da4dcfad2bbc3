#!/usr/bin/env bash
# make soak: the reliability campaign, reproducible. Against one allocserver
# under steady loopback load (loadgen, 8 keep-alive connections):
#   1. CYCLES attach/record/detach runs of mwscope (-d 1), exact and sampled
#      mode in turn;
#   2. KILLS runs killed with SIGKILL at a random moment (some before
#      "attached", some while recording);
# then checks what must hold: every run exited 0, the target never died, no
# request failed, no BPF program of mwscope (on_*) is left loaded, and the
# target's code is byte for byte its executable's (no breakpoint left in
# it). Prints the figures; exits 1 if any check fails.
#
# soak.sh BUILD [CYCLES] [KILLS]   (defaults 20 and 10)
set -euo pipefail
BUILD=${1:-build}
CYCLES=${2:-20}
KILLS=${3:-10}
MWSCOPE=$BUILD/mwscope
FIX=$BUILD/fixtures

fail() {
  echo "soak: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "attaching probes needs root; run: sudo make soak"
command -v bpftool >/dev/null || fail "bpftool is not installed (scripts/install-deps.sh)"

. "$(dirname "$0")/fixture-server.sh"
workdir=$(mktemp -d)
trap cleanup_fixtures EXIT

. "$(dirname "$0")/bpf-programs.sh"
since=$(newest_prog_id)
since=${since:-0}

start_fixture_server "$workdir/server.out" "$FIX/allocserver" -memprofilerate 4096 || exit 1
PORT=$SERVER_PORT

"$FIX/loadgen" -url "http://127.0.0.1:$PORT/work,http://127.0.0.1:$PORT/health" -n 0 -c 8 \
  -duration "$((CYCLES * 3 + KILLS * 3 + 10))s" >"$workdir/load.out" 2>&1 &
LOAD_PID=$!
sleep 1

failed_runs=0 crashes=0
for i in $(seq 1 "$CYCLES"); do
  mode=exact
  [ $((i % 2)) -eq 0 ] && mode=sampled
  if ! timeout 60 "$MWSCOPE" -p "$SERVER_PID" -d 1 --mode "$mode" >"$workdir/run.out" 2>"$workdir/run.err"; then
    failed_runs=$((failed_runs + 1))
    echo "soak: run $i ($mode) failed: $(tail -n1 "$workdir/run.err")" >&2
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { crashes=$((crashes + 1)); break; }
done

killed_before_attach=0 killed_while_recording=0
for i in $(seq 1 "$KILLS"); do
  "$MWSCOPE" -p "$SERVER_PID" --mode exact >/dev/null 2>"$workdir/kill.err" &
  victim=$!
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"  # 0 to 0.99 s: before or after "attached"
  if grep -q attached "$workdir/kill.err"; then
    killed_while_recording=$((killed_while_recording + 1))
  else
    killed_before_attach=$((killed_before_attach + 1))
  fi
  kill -9 "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  kill -0 "$SERVER_PID" 2>/dev/null || { crashes=$((crashes + 1)); break; }
done
sleep 0.5  # let the kernel release what the killed processes held

left_programs=$(our_progs_since "$since")

# The target's code against its executable: a breakpoint (0xCC) left behind
# by a uprobe would show as a difference. Text segment from the ELF header.
exe=$(readlink "/proc/$SERVER_PID/exe")
read -r text_addr text_off text_size < <(readelf -SW "$exe" |
  awk '{ for (i = 1; i < NF; i++) if ($i == ".text") { print $(i + 2), $(i + 3), $(i + 4); exit } }')
[ -n "${text_size:-}" ] || fail "no .text section in $exe"
text_addr=$((16#$text_addr)) text_off=$((16#$text_off)) text_size=$((16#$text_size))
dd if="$exe" of="$workdir/text.file" bs=64K iflag=skip_bytes,count_bytes skip="$text_off" count="$text_size" status=none
dd if="/proc/$SERVER_PID/mem" of="$workdir/text.mem" bs=64K iflag=skip_bytes,count_bytes skip="$text_addr" \
  count="$text_size" status=none
changed_bytes=$(cmp -l "$workdir/text.file" "$workdir/text.mem" 2>/dev/null | wc -l)

kill -INT "$LOAD_PID" 2>/dev/null || true  # loadgen stops and prints its figures
wait "$LOAD_PID" 2>/dev/null || true
LOAD_PID=
requests=$(sed -n 's/.*"requests": *\([0-9]*\).*/\1/p' "$workdir/load.out" | head -n1)
errors=$(sed -n 's/.*"errors": *\([0-9]*\).*/\1/p' "$workdir/load.out" | head -n1)

echo "soak: $CYCLES attach/record/detach runs (exact and sampled in turn) under load: $failed_runs failed"
echo "soak: $KILLS kill -9 ($killed_before_attach before \"attached\", $killed_while_recording while recording)"
echo "soak: target crashes $crashes; requests ${requests:-?}, failed ${errors:-?}"
echo "soak: left behind: $left_programs BPF programs, $changed_bytes changed bytes in the target's .text"
[ "$failed_runs" -eq 0 ] && [ "$crashes" -eq 0 ] && [ "${errors:-1}" -eq 0 ] && [ "$left_programs" -eq 0 ] &&
  [ "$changed_bytes" -eq 0 ] || fail "FAILED"
echo "soak: PASS"
