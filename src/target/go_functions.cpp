#include "target/go_functions.h"

#include <capstone/capstone.h>

#include <set>

namespace mws::target {

GoFunctionIndex::GoFunctionIndex(const ElfFile& exe, const std::string& go_version, const std::string& what)
    : exe_(exe), what_(what) {
  if (exe.has_symtab()) return;
  auto table = GoPclntab::parse(exe, go_version);
  if (table)
    pclntab_.emplace(std::move(*table));
  else
    problem_ = table.error().message;
}

Result<GoFunctionRange> GoFunctionIndex::find(const std::string& name) const {
  uint64_t entry = 0, size = 0;
  if (exe_.has_symtab()) {
    auto sym = exe_.find_symbol(name);
    if (!sym) return Error{what_ + ": " + name + " not found in the symbol table of " + exe_.path()};
    entry = sym->value;
    size = sym->size;
  } else {
    if (!pclntab_) return Error{what_ + ": no symbol table and no usable .gopclntab (" + problem_ + ")"};
    auto fn = pclntab_->function_by_name(name);
    if (!fn) return Error{what_ + ": " + name + " not found in the .gopclntab of " + exe_.path()};
    entry = fn->entry;
    size = fn->size();
  }
  auto off = exe_.vaddr_to_offset(entry);
  if (!off) return Error{what_ + ": " + name + " lies outside the file's loadable segments"};
  return GoFunctionRange{entry, size ? size : 64, *off};
}

std::optional<uint64_t> find_allgs(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.allgs")) return sym->value;
  return find_allgs_in_code(exe, index);
}

std::optional<uint64_t> find_allgs_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  auto fn = index.find("runtime.allgadd");
  if (!fn) return std::nullopt;
  auto code = exe.read_vaddr(fn->entry, fn->size);

  // Every RIP-relative data address the function touches.
  std::set<uint64_t> refs;
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return std::nullopt;
  cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(handle);
  const uint8_t* p = code.data();
  size_t left = code.size();
  uint64_t addr = fn->entry;
  while (left > 0) {
    if (!cs_disasm_iter(handle, &p, &left, &addr, insn)) {
      p++, left--, addr++;
      continue;
    }
    const cs_x86& x = insn->detail->x86;
    for (int i = 0; i < x.op_count; i++)
      if (x.operands[i].type == X86_OP_MEM && x.operands[i].mem.base == X86_REG_RIP)
        refs.insert(insn->address + insn->size + x.operands[i].mem.disp);
  }
  cs_free(insn, 1);
  cs_close(&handle);

  // append(allgs, gp) reads ptr, len and cap: the lowest address X with
  // X, X+8 and X+16 all referenced is the slice header.
  for (uint64_t a : refs)
    if (refs.count(a + 8) && refs.count(a + 16)) return a;
  return std::nullopt;
}

}  // namespace mws::target
