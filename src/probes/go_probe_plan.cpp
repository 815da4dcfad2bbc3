#include "probes/go_probe_plan.h"

#include <fmt/format.h>

#include "probes/prologue.h"
#include "probes/ret_finder.h"
#include "target/go_abi.h"

namespace mws::probes {
namespace {

struct Function {
  uint64_t entry = 0, size = 0, file_offset = 0;
};

Result<Function> find_function(const target::ElfFile& exe, const std::string& name, const std::string& what) {
  auto sym = exe.find_symbol(name);
  if (!sym) return Error{what + ": " + name + " not found in the symbol table of " + exe.path()};
  auto off = exe.vaddr_to_offset(sym->value);
  if (!off) return Error{what + ": " + name + " lies outside the file's loadable segments"};
  return Function{sym->value, sym->size ? sym->size : 64, *off};
}

Result<ProbeSite> entry_site(const target::ElfFile& exe, const std::string& name, const std::string& what) {
  auto fn = find_function(exe, name, what);
  if (!fn) return fn.error();
  auto placement = find_entry_probe_offset(exe.read_vaddr(fn->entry, fn->size), fn->entry);
  return ProbeSite{exe.path(), name, fn->file_offset + placement.offset, fn->entry + placement.offset,
                   placement.on_stack_check_jump ? "prologue jump" : "entry"};
}

// Goroutine tracking: newproc1's RETs and goexit1's entry, plus the g
// offsets. Returns why not when something is missing.
std::string plan_tasks(const target::ElfFile& exe, const std::string& what, GoTarget& t) {
  auto offsets = target::go_runtime_offsets(exe, t.build.version);
  if (!offsets) return offsets.error().message;
  if (offsets->g_goid < 0) return "the offset of runtime.g.goid is unknown for " + t.build.version;
  t.offsets_source = offsets->source;
  t.g_atomicstatus_offset = offsets->g_atomicstatus;
  t.g_waitreason_offset = offsets->g_waitreason;
  t.plan.offsets = {offsets->g_goid, offsets->g_startpc, offsets->g_gopc,
                    offsets->g_m,    offsets->g_parent_goid, offsets->m_curg};

  auto newproc1 = find_function(exe, "runtime.newproc1", what);
  if (!newproc1) return newproc1.error().message;
  auto rets = find_ret_instructions(exe.read_vaddr(newproc1->entry, newproc1->size), newproc1->entry);
  if (rets.empty()) return "no RET instruction found in runtime.newproc1";
  for (uint64_t ret : rets)
    t.plan.spawn.push_back(
        {exe.path(), "runtime.newproc1", newproc1->file_offset + (ret - newproc1->entry), ret, "RET"});

  auto goexit1 = entry_site(exe, "runtime.goexit1", what);
  if (!goexit1) return goexit1.error().message;
  t.plan.exit.push_back(*goexit1);
  return "";
}

}  // namespace

Result<GoTarget> plan_go_probes(const target::ElfFile& exe, const std::string& what, const PlanRequest& req) {
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
  if (req.allocations) {
    auto site = entry_site(exe, "runtime.mallocgc", what);
    if (!site) return site.error();
    t.plan.alloc.push_back(*site);
  }
  if (req.tasks) {
    t.tasks_unavailable = plan_tasks(exe, what, t);
    if (!t.tasks_unavailable.empty()) {
      t.plan.spawn.clear();
      t.plan.exit.clear();
    }
  } else {
    t.tasks_unavailable = "goroutine tracking was turned off (--no-goroutines)";
  }
  return t;
}

}  // namespace mws::probes
