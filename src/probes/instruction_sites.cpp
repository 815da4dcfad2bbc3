#include "probes/instruction_sites.h"

#include "target/x86_code.h"

namespace mws::probes {

std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr) {
  std::vector<uint64_t> rets;
  // ENDBR64 (CET) never occurs in Go code, but C functions start with it;
  // it is decoded like any other instruction and skipped here.
  target::for_each_instruction(code, entry_addr, false, [&](const cs_insn& insn) {
    if (insn.id == X86_INS_RET) rets.push_back(insn.address);
    return true;
  });
  return rets;
}

std::vector<uint64_t> find_calls_to(std::span<const uint8_t> code, uint64_t entry_addr, uint64_t callee) {
  std::vector<uint64_t> calls;
  target::for_each_instruction(code, entry_addr, true, [&](const cs_insn& insn) {
    if (insn.id != X86_INS_CALL || insn.size != kCallRel32Bytes || insn.bytes[0] != 0xE8) return true;
    const cs_x86& x86 = insn.detail->x86;
    if (x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM && uint64_t(x86.operands[0].imm) == callee)
      calls.push_back(insn.address);
    return true;
  });
  return calls;
}

}  // namespace mws::probes
