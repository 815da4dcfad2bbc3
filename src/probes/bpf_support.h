// What every BPF object of mwscope does the same way: keep libbpf's
// warnings instead of printing them, and turn a failed load or attach into
// one line that says what to do.
#pragma once

#include <string>

#include "util/result.h"

namespace mws::probes {

// Starts keeping libbpf's warnings (a verifier log) for the next load.
void capture_libbpf_log();
// A failed skeleton load (its negative errno) as one line; a verifier
// rejection also prints the kept log on stderr.
Error bpf_load_error(int err);
// A failed uprobe attach on `symbol` in `binary` (errno `err`) as one line.
Error uprobe_attach_error(const std::string& symbol, const std::string& binary, int err);
std::string errno_text(int err);

}  // namespace mws::probes
