# Sourced by soak.sh, soak-serve.sh and the benches: mwscope's BPF programs
# still loaded, and what each of a process's programs ran.
# Ours are named on_* (bpf/*.bpf.c); counting those with ids above the newest
# one loaded before a run starts, another tool's programs never count.
newest_prog_id() { bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p' | sort -n | tail -n1; }
our_progs_since() {
  bpftool prog show 2>/dev/null | awk -v since="$1" -F'[: ]+' \
    '/^[0-9]+:/ { for (i = 1; i <= NF; i++) if ($i == "name" && $(i+1) ~ /^on_/ && $1 + 0 > since) n++ } END { print n + 0 }'
}

# prog_stats PID: "name run_cnt run_time_ns" for every BPF program process
# PID holds (its program fds' fdinfo has prog_id, run_cnt and run_time_ns;
# bpftool names the ids). The counts grow only while
# kernel.bpf_stats_enabled=1.
prog_stats() {
  local fd info names
  names=$(mktemp)
  bpftool prog show -j | jq -r '.[] | "\(.id) \(.name)"' | sort -k1,1 >"$names"
  for fd in /proc/"$1"/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
    info=/proc/$1/fdinfo/${fd##*/}
    awk '$1 == "prog_id:" { id = $2 } $1 == "run_cnt:" { n = $2 } $1 == "run_time_ns:" { t = $2 }
         END { print id, n + 0, t + 0 }' "$info"
  done | sort -k1,1 | join - "$names" | awk '{ print $4, $2, $3 }' | sort
  rm -f "$names"
}

# bpf_stats_workdir: for a bench that reads its programs' run counts or
# times. Makes $work (a temporary directory), keeps the value of
# kernel.bpf_stats_enabled in BPF_STATS_BEFORE, and on EXIT puts it back,
# stops the background jobs and removes $work.
bpf_stats_workdir() {
  work=$(mktemp -d)
  BPF_STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
  trap 'sysctl -q -w kernel.bpf_stats_enabled="$BPF_STATS_BEFORE" || true; kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}
