#include "probes/go_probe_plan.h"

#include "probes/prologue.h"

namespace mws::probes {

Result<GoTarget> plan_go_alloc_probe(const target::ElfFile& exe, const std::string& what) {
  GoTarget t;
  auto build = target::read_go_buildinfo(exe);
  if (!build)
    return Error{what + " is not a Go program (its executable has no Go build information); mwscope profiles Go servers"};
  t.build = *build;
  auto ver = target::parse_go_version(build->version);
  if (ver && *ver < std::make_pair(1, 17))
    return Error{what + " was built with " + build->version + "; mwscope needs Go >= 1.17 (register ABI)"};
  if (!exe.has_symtab())
    return Error{what + " is a stripped Go binary (" + build->version +
                 ", no symbol table); stripped binaries are not supported yet: profile a build without -ldflags=-s"};
  auto sym = exe.find_symbol("runtime.mallocgc");
  if (!sym) return Error{what + ": runtime.mallocgc not found in the symbol table of " + exe.path()};
  auto off = exe.vaddr_to_offset(sym->value);
  if (!off) return Error{what + ": runtime.mallocgc lies outside the file's loadable segments"};

  auto code = exe.read_vaddr(sym->value, sym->size ? sym->size : 64);
  auto placement = find_entry_probe_offset(code, sym->value);
  t.mallocgc.binary_path = exe.path();
  t.mallocgc.symbol = "runtime.mallocgc";
  t.mallocgc.vaddr = sym->value + placement.offset;
  t.mallocgc.file_offset = *off + placement.offset;
  t.mallocgc.on_stack_check_jump = placement.on_stack_check_jump;
  return t;
}

}  // namespace mws::probes
