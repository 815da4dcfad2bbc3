// Where in a Go function's prologue to put an entry probe.
//
// Go functions begin with the stack-growth check
//     CMPQ SP, 0x10(R14)   (or LEAQ -N(SP), R12; CMPQ R12, 0x10(R14))
//     JBE  morestack
// A uprobe on the CMP is single-stepped by the kernel (~4x the cost of an
// emulated instruction on our VMs); one on the JBE is emulated, and at that
// point nothing has changed yet: arguments are still in registers, SP still
// points at the return address and RBP is still the caller's.
#pragma once

#include <cstdint>
#include <span>

namespace mws::probes {

struct ProloguePlacement {
  uint64_t offset = 0;      // bytes from the function's entry
  bool on_stack_check_jump = false;  // false: fell back to the entry
};

// `code` starts at the function's entry, `entry_addr` is its address.
ProloguePlacement find_entry_probe_offset(std::span<const uint8_t> code, uint64_t entry_addr);

// For a C function (glibc's free begins `TEST RDI, RDI; JE ...`): the offset
// of the first instruction when the kernel can emulate it, else of a
// conditional jump that follows only TEST/CMP instructions (which change
// flags, no register or memory: the arguments and the return address at
// [SP] are as at entry). 0 when neither: the entry, single-stepped.
uint64_t find_c_entry_probe_offset(std::span<const uint8_t> code, uint64_t entry_addr);

}  // namespace mws::probes
