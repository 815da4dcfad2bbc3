#include "probes/prologue.h"

#include <capstone/capstone.h>

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
  ProloguePlacement fallback{0, false};
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return fallback;
  cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = nullptr;
  // The check is within the first few instructions; 64 bytes is plenty.
  size_t len = code.size() < 64 ? code.size() : 64;
  size_t n = cs_disasm(handle, code.data(), len, entry_addr, 6, &insn);
  ProloguePlacement result = fallback;
  for (size_t i = 0; i + 1 < n; i++) {
    if (!is_stack_guard_cmp(insn[i])) continue;
    const cs_insn& next = insn[i + 1];
    if (next.id == X86_INS_JBE || next.id == X86_INS_JA) {
      // Only the instructions before it (a LEA/CMP) may sit between entry and
      // the jump: none of them writes memory or changes SP/RBP/argument regs
      // other than the scratch R12.
      result = {next.address - entry_addr, true};
    }
    break;
  }
  if (insn) cs_free(insn, n);
  cs_close(&handle);
  return result;
}

}  // namespace mws::probes
