#include "target/go_heap_locate.h"

#include "target/x86_code.h"

namespace mws::target {

namespace {

// In `caller`, the target of the last `LEAQ x(RIP), AX` at most `window`
// instructions before the first direct CALL to `callee`.
std::optional<uint64_t> lea_rax_before_call(const ElfFile& exe, const GoFunctionIndex& index, const char* caller,
                                            const char* callee, int window) {
  auto from = index.find(caller);
  auto to = index.find(callee);
  if (!from || !to) return std::nullopt;
  std::optional<uint64_t> found, lea;
  int since = 0;
  for_each_instruction(exe.read_vaddr(from->entry, from->size), from->entry, true, [&](const cs_insn& insn) {
    const cs_x86& x = insn.detail->x86;
    if (insn.id == X86_INS_LEA && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        x.operands[0].reg == X86_REG_RAX && x.operands[1].type == X86_OP_MEM &&
        x.operands[1].mem.base == X86_REG_RIP && x.operands[1].mem.index == X86_REG_INVALID) {
      lea = insn.address + insn.size + uint64_t(x.operands[1].mem.disp);
      since = 0;
      return true;
    }
    if (insn.id == X86_INS_CALL && x.op_count == 1 && x.operands[0].type == X86_OP_IMM &&
        uint64_t(x.operands[0].imm) == to->entry) {
      found = lea;
      return false;
    }
    if (++since > window) lea.reset();
    return true;
  });
  return found;
}

}  // namespace

std::optional<uint64_t> find_mheap(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.mheap_")) return sym->value;
  return find_mheap_in_code(exe, index);
}

std::optional<uint64_t> find_mheap_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  return lea_rax_before_call(exe, index, "runtime.mallocinit", "runtime.(*mheap).init", 0);
}

std::optional<uint64_t> find_allm(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.allm")) return sym->value;
  return find_allm_in_code(exe, index);
}

std::optional<uint64_t> find_allm_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  return lea_rax_before_call(exe, index, "runtime.mcommoninit", "runtime.atomicwb", 1);
}

}  // namespace mws::target
