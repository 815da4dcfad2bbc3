// What every BPF object of mwscope does the same way: keep libbpf's
// warnings instead of printing them, and turn a failed load or attach into
// one line that says what to do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/result.h"

struct bpf_map;

namespace mws::probes {

// Starts keeping libbpf's warnings (a verifier log) for the next load.
void capture_libbpf_log();
// A failed skeleton load (its negative errno) as one line; a verifier
// rejection also prints the kept log on stderr.
Error bpf_load_error(int err);
// A failed uprobe attach on `symbol` in `binary` (errno `err`) as one line.
Error uprobe_attach_error(const std::string& symbol, const std::string& binary, int err);
std::string errno_text(int err);
// Every counter of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 (one index per
// counter, `count` of them), each summed over the CPUs; zeros when unreadable.
std::vector<uint64_t> sum_percpu_counters(const bpf_map* counters, uint32_t count);

}  // namespace mws::probes
