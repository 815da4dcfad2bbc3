// Instructions to put a probe on inside a function, found by disassembling
// it: its RETs (a return value is read with plain uprobes on them: Go
// functions must never get a uretprobe, Go moves stacks and the rewritten
// return address crashes the target), and its CALLs to a given function
// (the arguments are in registers there, and the kernel emulates a CALL
// instead of single-stepping it: about 12x cheaper than a RET here), and
// where a counter is flushed (a branch taken far less often than its
// function is called).
#pragma once

#include <capstone/capstone.h>

#include <cstdint>
#include <span>
#include <vector>

namespace mws::probes {

// The 64-bit register a general register is part of (EAX, AX, AL, AH:
// RAX; R8D, R8W, R8B: R8); any other register as it is. Write tracking
// needs it: `mov eax, 1` overwrites RAX too.
x86_reg full_register(x86_reg r);

// `code` is the whole function starting at `entry_addr`. Returns the
// addresses of its RET instructions. Bytes capstone cannot decode are
// skipped one at a time, so one odd byte does not hide later RETs.
std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr);

// The addresses of the direct CALL rel32 instructions (E8, 5 bytes) of
// `code` whose target is `callee`.
inline constexpr uint64_t kCallRel32Bytes = 5;
std::vector<uint64_t> find_calls_to(std::span<const uint8_t> code, uint64_t entry_addr, uint64_t callee);

// A counter flushed and zeroed in one place, as Go's (*mcache).refill
// flushes c.tinyAllocs (mcache.go: `atomic.Xadd64(&stats.tinyAllocCount,
// int64(c.tinyAllocs)); c.tinyAllocs = 0`), compiled to
//     MOVQ off(Rc), Rx ; LOCK XADDQ Rx, (stats) ; MOVQ $0, off(Rc)
// `load` is the address of the MOV that reads the counter, `base` the
// register that holds the struct (Rc) there. The probe goes on the load:
// the kernel refuses a uprobe on a LOCK-prefixed instruction, and after the
// XADD Rx holds the total's old value instead of the counter.
struct CounterFlush {
  uint64_t load = 0;
  x86_reg base = X86_REG_INVALID;
};

// Every such flush of the 8-byte member at `member_offset` in `code`: a
// load of [base + member_offset] into a register, then within a few
// instructions that do not change base, a LOCK XADD of that register and a
// store of 0 to the same [base + member_offset]. Nothing else matches.
std::vector<CounterFlush> find_counter_flushes(std::span<const uint8_t> code, uint64_t entry_addr,
                                               int64_t member_offset);

// The pt_regs register (bpf/events.h, enum mws_reg) of a 64-bit Capstone
// register, MWS_REG_NONE for any other: what a BPF program reads at a site.
uint32_t pt_regs_register(x86_reg r);

}  // namespace mws::probes
