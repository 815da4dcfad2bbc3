#include "target/go_heap_locate.h"

#include "target/x86_code.h"

namespace mws::target {

std::optional<uint64_t> find_mheap(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.mheap_")) return sym->value;
  return find_mheap_in_code(exe, index);
}

std::optional<uint64_t> find_mheap_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  auto caller = index.find("runtime.mallocinit");
  auto init = index.find("runtime.(*mheap).init");
  if (!caller || !init) return std::nullopt;
  std::optional<uint64_t> found, last_lea_rax;
  for_each_instruction(exe.read_vaddr(caller->entry, caller->size), caller->entry, true, [&](const cs_insn& insn) {
    const cs_x86& x = insn.detail->x86;
    if (insn.id == X86_INS_LEA && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        x.operands[0].reg == X86_REG_RAX && x.operands[1].type == X86_OP_MEM &&
        x.operands[1].mem.base == X86_REG_RIP && x.operands[1].mem.index == X86_REG_INVALID) {
      last_lea_rax = insn.address + insn.size + uint64_t(x.operands[1].mem.disp);
      return true;
    }
    if (insn.id == X86_INS_CALL && x.op_count == 1 && x.operands[0].type == X86_OP_IMM &&
        uint64_t(x.operands[0].imm) == init->entry) {
      found = last_lea_rax;
      return false;
    }
    // Only the instruction right before the call counts.
    last_lea_rax.reset();
    return true;
  });
  return found;
}

}  // namespace mws::target
