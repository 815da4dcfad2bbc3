#include "target/go_functions.h"

#include <capstone/capstone.h>
#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <span>

#include "target/x86_code.h"
#include "util/bytes.h"

namespace mws::target {

GoFunctionIndex::GoFunctionIndex(const ElfFile& exe, const std::string& go_version, const std::string& what,
                                 const std::atomic<bool>* stop)
    : exe_(exe), what_(what) {
  if (exe.has_symtab()) return;
  auto table = GoPclntab::parse(exe, go_version, stop);
  if (table)
    pclntab_.emplace(std::move(*table));
  else
    problem_ = table.error().message;
}

Result<GoFunctionRange> GoFunctionIndex::find(const std::string& name) const {
  uint64_t entry = 0, size = 0;
  if (exe_.has_symtab()) {
    // Assembly functions (ABI0, runtime.goexit) are NAME.abi0 in the symbol
    // table and NAME in .gopclntab: both name them as the stripped binary does.
    auto sym = exe_.find_symbol(name);
    if (!sym) sym = exe_.find_symbol(name + ".abi0");
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

std::vector<NamedGoFunction> GoFunctionIndex::find_prefix(std::string_view prefix) const {
  std::set<std::string> names;
  if (exe_.has_symtab()) {
    for (const ElfSymbol& s : exe_.symbols())
      if (s.is_function && std::string_view(s.name).starts_with(prefix)) names.insert(s.name);
  } else if (pclntab_) {
    for (size_t i = 0; i < pclntab_->function_count(); i++) {
      std::string_view name = pclntab_->function(i).name;
      if (name.starts_with(prefix)) names.emplace(name);
    }
  }
  std::vector<NamedGoFunction> out;
  for (const auto& name : names)
    if (auto range = find(name)) out.push_back({name, *range});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.range.entry < b.range.entry; });
  return out;
}

void GoFunctionIndex::for_each_function(const std::function<void(std::string_view, uint64_t, uint64_t)>& visit) const {
  if (exe_.has_symtab()) {
    for (const ElfSymbol& s : exe_.symbols())
      if (s.is_function && s.size > 0) visit(s.name, s.value, s.size);
  } else if (pclntab_) {
    for (size_t i = 0; i < pclntab_->function_count(); i++) {
      const GoFunction f = pclntab_->function(i);
      visit(f.name, f.entry, f.size());
    }
  }
}

namespace {

bool in_ranges(const std::vector<CodeRange>& ranges, uint64_t addr) {
  for (const auto& r : ranges)
    if (addr >= r.lo && addr < r.hi) return true;
  return false;
}

// Calls `visit(target)` for each direct call (CALL rel32) in the code at
// [entry, entry + size), in order, until it returns false.
void for_each_direct_call(const ElfFile& exe, uint64_t entry, uint64_t size,
                          const std::function<bool(uint64_t)>& visit) {
  for_each_instruction(exe.read_vaddr(entry, size), entry, false, [&](const cs_insn& insn) {
    // CALL rel32: E8 and a displacement from the next instruction.
    if (insn.size != 5 || insn.bytes[0] != 0xE8) return true;
    int32_t rel = 0;
    for (int b = 4; b >= 1; b--) rel = static_cast<int32_t>((static_cast<uint32_t>(rel) << 8) | insn.bytes[b]);
    return visit(insn.address + 5 + static_cast<int64_t>(rel));
  });
}

}  // namespace

std::vector<std::string> direct_callers_outside(const ElfFile& exe, const GoFunctionIndex& index,
                                                const std::vector<CodeRange>& callees,
                                                const std::vector<CodeRange>& allowed) {
  std::set<std::string> callers;
  index.for_each_function([&](std::string_view name, uint64_t entry, uint64_t size) {
    if (in_ranges(allowed, entry)) return;
    for_each_direct_call(exe, entry, size, [&](uint64_t target) {
      if (!in_ranges(callees, target)) return true;
      callers.emplace(name);
      return false;
    });
  });
  return {callers.begin(), callers.end()};
}

std::set<uint64_t> direct_call_targets(const ElfFile& exe, const GoFunctionRange& fn) {
  std::set<uint64_t> targets;
  for_each_direct_call(exe, fn.entry, fn.size, [&](uint64_t target) {
    targets.insert(target);
    return true;
  });
  return targets;
}

std::optional<uint64_t> find_allgs(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.allgs")) return sym->value;
  return find_allgs_in_code(exe, index);
}

namespace {

// Every RIP-relative data address the function touches.
std::set<uint64_t> rip_relative_refs(const ElfFile& exe, const GoFunctionIndex& index, const std::string& name) {
  std::set<uint64_t> refs;
  auto fn = index.find(name);
  if (!fn) return refs;
  for_each_instruction(exe.read_vaddr(fn->entry, fn->size), fn->entry, true, [&](const cs_insn& insn) {
    const cs_x86& x = insn.detail->x86;
    for (int i = 0; i < x.op_count; i++)
      if (x.operands[i].type == X86_OP_MEM && x.operands[i].mem.base == X86_REG_RIP)
        refs.insert(insn.address + insn.size + x.operands[i].mem.disp);
    return true;
  });
  return refs;
}


// The Go string whose header {ptr, len} is at `addr`, when it reads as a Go
// version.
std::optional<std::string> version_string_at(const ElfFile& exe, uint64_t addr) {
  auto hdr = exe.read_vaddr(addr, 16);
  if (hdr.size() != 16) return std::nullopt;
  const uint64_t ptr = le64(hdr.data()), len = le64(hdr.data() + 8);
  if (len < 4 || len > 256) return std::nullopt;
  auto bytes = exe.read_vaddr(ptr, len);
  if (bytes.size() != len) return std::nullopt;
  std::string s(bytes.begin(), bytes.end());
  const bool go = s.size() > 4 && s.compare(0, 4, "go1.") == 0 && std::isdigit(static_cast<unsigned char>(s[4]));
  if (!go && s.rfind("devel ", 0) != 0) return std::nullopt;
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return std::nullopt;
  return s;
}

}  // namespace

std::optional<uint64_t> find_mem_profile_rate(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.MemProfileRate")) return sym->value;
  return find_mem_profile_rate_in_code(exe, index);
}

Status check_mem_profile_rate_word(const ElfFile& exe, uint64_t vaddr) {
  const std::string where = fmt::format("runtime.MemProfileRate at {:#x}", vaddr);
  if (vaddr == 0 || vaddr % 8 != 0) return Error{where + " is not 8-byte aligned: refusing to write it"};
  if (auto sym = exe.find_symbol("runtime.MemProfileRate"); sym && (sym->value != vaddr || sym->size != 8))
    return Error{where + " is not the 8-byte symbol .symtab names: refusing to write it"};
  bool in_section = false;
  for (const ElfSection& s : exe.sections())
    if ((s.flags & SHF_WRITE) && (s.flags & SHF_ALLOC) && !(s.flags & SHF_TLS) && vaddr >= s.addr &&
        s.size >= 8 && vaddr - s.addr <= s.size - 8)
      in_section = true;
  if (!in_section) return Error{where + " is in no writable data section: refusing to write it"};
  for (const ElfSegment& seg : exe.load_segments())
    if ((seg.flags & PF_W) && vaddr >= seg.vaddr && seg.memsz >= 8 && vaddr - seg.vaddr <= seg.memsz - 8)
      return Ok{};
  return Error{where + " is in no writable segment: refusing to write it"};
}

std::optional<uint64_t> find_mem_profile_rate_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  // malloc.go, profilealloc, with nextSample inlined (1.17-1.26):
  //   if MemProfileRate == 1 { return 0 }
  // so MemProfileRate is the RIP-relative quadword loaded into a register
  // that one of the next few instructions compares with 1. (1.26 first
  // tests it for 0; the compare with 1 follows a few instructions later.)
  auto fn = index.find("runtime.profilealloc");
  if (!fn) return std::nullopt;
  auto code = exe.read_vaddr(fn->entry, fn->size);
  // Quadwords loaded RIP-relative into a register in the last 6 instructions.
  struct Load {
    x86_reg reg;
    uint64_t addr;
    int age;
  };
  std::vector<Load> recent;
  std::optional<uint64_t> found;
  for_each_instruction(code, fn->entry, true, [&](const cs_insn& insn) {
    const cs_x86& x = insn.detail->x86;
    if (insn.id == X86_INS_CMP && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        x.operands[1].type == X86_OP_IMM && x.operands[1].imm == 1)
      for (const Load& l : recent)
        if (l.reg == x.operands[0].reg) {
          found = l.addr;
          return false;
        }
    for (Load& l : recent) l.age++;
    std::erase_if(recent, [](const Load& l) { return l.age >= 6; });
    if (insn.id == X86_INS_MOV && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        x.operands[1].type == X86_OP_MEM && x.operands[1].mem.base == X86_REG_RIP && x.operands[1].size == 8)
      recent.push_back({x.operands[0].reg, insn.address + insn.size + uint64_t(x.operands[1].mem.disp), 0});
    return true;
  });
  return found;
}

std::optional<uint64_t> find_allgs_in_code(const ElfFile& exe, const GoFunctionIndex& index) {
  std::set<uint64_t> refs = rip_relative_refs(exe, index, "runtime.allgadd");

  // append(allgs, gp) reads ptr, len and cap: the lowest address X with
  // X, X+8 and X+16 all referenced is the slice header.
  for (uint64_t a : refs)
    if (refs.count(a + 8) && refs.count(a + 16)) return a;
  return std::nullopt;
}

namespace {

// Address of the first RIP-relative load of `bytes` bytes into a register
// in function `name`.
std::optional<uint64_t> first_rip_relative_load(const ElfFile& exe, const GoFunctionIndex& index,
                                                const std::string& name, uint8_t bytes) {
  auto fn = index.find(name);
  if (!fn) return std::nullopt;
  std::optional<uint64_t> found;
  for_each_instruction(exe.read_vaddr(fn->entry, fn->size), fn->entry, true, [&](const cs_insn& insn) {
    const cs_x86& x = insn.detail->x86;
    if (insn.id == X86_INS_MOV && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
        x.operands[1].type == X86_OP_MEM && x.operands[1].mem.base == X86_REG_RIP && x.operands[1].size == bytes) {
      found = insn.address + insn.size + uint64_t(x.operands[1].mem.disp);
      return false;
    }
    return true;
  });
  return found;
}

}  // namespace

std::optional<HeapProfileVariables> find_heap_profile_variables(const ElfFile& exe, const GoFunctionIndex& index) {
  auto buckets = exe.find_symbol("runtime.mbuckets");
  auto cycle = exe.find_symbol("runtime.mProfCycle");
  if (buckets && cycle) return HeapProfileVariables{buckets->value, cycle->value};
  return find_heap_profile_variables_in_code(exe, index);
}

std::optional<HeapProfileVariables> find_heap_profile_variables_in_code(const ElfFile& exe,
                                                                        const GoFunctionIndex& index) {
  // mprof.go: mProf_FlushLocked starts `for b := mbuckets.Load(); ...`, and
  // mProf_Flush starts `cycle, alreadyFlushed := mProfCycle.setFlushed()`.
  auto buckets = first_rip_relative_load(exe, index, "runtime.mProf_FlushLocked", 8);
  auto cycle = first_rip_relative_load(exe, index, "runtime.mProf_Flush", 4);
  if (!buckets || !cycle) return std::nullopt;
  return HeapProfileVariables{*buckets, *cycle};
}

std::optional<std::string> find_build_version(const ElfFile& exe, const GoFunctionIndex& index) {
  if (auto sym = exe.find_symbol("runtime.buildVersion")) return version_string_at(exe, sym->value);
  // proc.go, schedinit, in every Go version since 1.5:
  //   if buildVersion == "" {
  //     // Condition should never trigger. This code just serves
  //     // to ensure runtime·buildVersion is kept in the resulting binary.
  //     buildVersion = "unknown"
  //   }
  // so the function addresses the string header (its len word at least).
  // The header is in .data, initialised by the linker (-X runtime.buildVersion).
  for (uint64_t a : rip_relative_refs(exe, index, "runtime.schedinit")) {
    if (auto v = version_string_at(exe, a)) return v;
    if (auto v = version_string_at(exe, a - 8)) return v;  // the len word was addressed
  }
  return std::nullopt;
}

}  // namespace mws::target
