// Instructions to put a probe on inside a function, found by disassembling
// it: its RETs (a return value is read with plain uprobes on them: Go
// functions must never get a uretprobe, Go moves stacks and the rewritten
// return address crashes the target), and its CALLs to a given function
// (the arguments are in registers there, and the kernel emulates a CALL
// instead of single-stepping it: about 12x cheaper than a RET here).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mws::probes {

// `code` is the whole function starting at `entry_addr`. Returns the
// addresses of its RET instructions. Bytes capstone cannot decode are
// skipped one at a time, so one odd byte does not hide later RETs.
std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr);

// The addresses of the direct CALL rel32 instructions (E8, 5 bytes) of
// `code` whose target is `callee`.
inline constexpr uint64_t kCallRel32Bytes = 5;
std::vector<uint64_t> find_calls_to(std::span<const uint8_t> code, uint64_t entry_addr, uint64_t callee);

}  // namespace mws::probes
