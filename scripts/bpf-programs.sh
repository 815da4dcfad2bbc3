# Sourced by soak.sh and soak-serve.sh: mwscope's BPF programs still loaded.
# Ours are named on_* (bpf/*.bpf.c); counting those with ids above the newest
# one loaded before a run starts, another tool's programs never count.
newest_prog_id() { bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p' | sort -n | tail -n1; }
our_progs_since() {
  bpftool prog show 2>/dev/null | awk -v since="$1" -F'[: ]+' \
    '/^[0-9]+:/ { for (i = 1; i <= NF; i++) if ($i == "name" && $(i+1) ~ /^on_/ && $1 + 0 > since) n++ } END { print n + 0 }'
}
