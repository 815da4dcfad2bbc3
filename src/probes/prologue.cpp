#include "probes/prologue.h"

#include <capstone/capstone.h>

#include <algorithm>

#include "target/x86_code.h"

namespace mws::probes {
namespace {

// True for CMP whose memory operand is 0x10(R14): g.stackguard0.
bool is_stack_guard_cmp(const cs_insn& insn) {
  if (insn.id != X86_INS_CMP || !insn.detail) return false;
  const cs_x86& x = insn.detail->x86;
  for (int i = 0; i < x.op_count; i++) {
    const cs_x86_op& op = x.operands[i];
    if (op.type == X86_OP_MEM && op.mem.base == X86_REG_R14 && op.mem.disp == 0x10) return true;
  }
  return false;
}

}  // namespace

ProloguePlacement find_entry_probe_offset(std::span<const uint8_t> code, uint64_t entry_addr) {
  ProloguePlacement result{0, false};
  // The check is within the first few instructions; 64 bytes is plenty.
  constexpr int kMaxInstructions = 6;
  int seen = 0;
  bool after_check = false;
  target::for_each_instruction(code.first(std::min<size_t>(code.size(), 64)), entry_addr, true,
                               [&](const cs_insn& insn) {
                                 if (after_check) {
                                   // Only the instructions before it (a LEA/CMP) may sit between
                                   // entry and the jump: none of them writes memory or changes
                                   // SP/RBP/argument regs other than the scratch R12.
                                   if (insn.id == X86_INS_JBE || insn.id == X86_INS_JA)
                                     result = {insn.address - entry_addr, true};
                                   return false;
                                 }
                                 after_check = is_stack_guard_cmp(insn);
                                 return ++seen < kMaxInstructions;
                               });
  return result;
}

uint64_t find_c_entry_probe_offset(std::span<const uint8_t> code, uint64_t entry_addr) {
  uint64_t offset = 0;
  bool first = true;
  target::for_each_instruction(code.first(std::min<size_t>(code.size(), 32)), entry_addr, true,
                               [&](const cs_insn& insn) {
                                 const bool flags_only = insn.id == X86_INS_TEST || insn.id == X86_INS_CMP;
                                 const bool jcc = target::is_jump(insn) && insn.id != X86_INS_JMP && insn.id != X86_INS_LJMP;
                                 if (jcc && !first) offset = insn.address - entry_addr;
                                 first = false;
                                 return flags_only;  // go on past TEST/CMP only
                               });
  return offset;
}

}  // namespace mws::probes
