// Finds the RET instructions of a function by disassembling it, so a
// return value can be read with plain uprobes on them: Go functions must
// never get a uretprobe (Go moves stacks; the rewritten return address
// crashes the target).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mws::probes {

// `code` is the whole function starting at `entry_addr`. Returns the
// addresses of its RET instructions. Bytes capstone cannot decode are
// skipped one at a time, so one odd byte does not hide later RETs.
std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr);

}  // namespace mws::probes
