#include "probes/go_probe_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "probes/prologue.h"
#include "probes/instruction_sites.h"
#include "probes/route_sites.h"
#include "target/go_functions.h"
#include "target/go_abi.h"

namespace mws::probes {
namespace {

Result<ProbeSite> entry_site(const target::ElfFile& exe, const target::GoFunctionIndex& index, const std::string& name) {
  auto fn = index.find(name);
  if (!fn) return fn.error();
  auto placement = find_entry_probe_offset(exe.read_vaddr(fn->entry, fn->size), fn->entry);
  return ProbeSite{exe.path(), name, fn->file_offset + placement.offset, fn->entry + placement.offset,
                   placement.on_stack_check_jump ? "prologue jump" : "entry", placement.on_stack_check_jump};
}

// Size-specialised builds: runtime.mallocgc hands each allocation to a
// probed entry point (through its size tables) or to one of its internal
// paths, so a probe on its own entry made most of its allocations trap
// twice, the outer hit counting and the inner one returning. Instead, probe
// the internal paths mallocgc calls, and not mallocgc: every allocation then
// passes one probe, and BPF takes a hit called from allocator code for
// mallocgc's caller's (bpf/go.bpf.c, on_mallocgc). Only when no other
// allocator function calls those paths (an allocation would pass two
// probes): the internal paths are reached from allocator code only
// (allocator_role's table, or plan_exact's proof on a newer release), so
// the allocator's own code, a few dozen functions, is all there is to read.
// Empty: keep mallocgc's entry. `allocator`: every runtime.mallocgc* function.
std::vector<std::string> mallocgc_internal_paths(const target::ElfFile& exe,
                                                 const std::vector<target::NamedGoFunction>& allocator) {
  auto is_mallocgc = [](const target::NamedGoFunction& fn) { return fn.name == "runtime.mallocgc"; };
  auto mallocgc = std::find_if(allocator.begin(), allocator.end(), is_mallocgc);
  if (mallocgc == allocator.end()) return {};
  const std::set<uint64_t> called = target::direct_call_targets(exe, mallocgc->range);
  std::vector<std::string> paths;
  std::set<uint64_t> path_entries;
  for (const auto& fn : allocator)
    if (target::allocator_role(fn.name) == target::AllocatorRole::kInternal && called.contains(fn.range.entry)) {
      paths.push_back(fn.name);
      path_entries.insert(fn.range.entry);
    }
  for (const auto& fn : allocator) {
    if (is_mallocgc(fn)) continue;
    for (uint64_t target : target::direct_call_targets(exe, fn.range))
      if (path_entries.contains(target)) return {};
  }
  return paths;
}

// Exact mode: a probe on every allocator entry point (runtime.mallocgc, and
// the size-specialised allocators the compiler calls directly from Go 1.26
// with GOEXPERIMENT=sizespecializedmalloc, 1.27 by default; there mallocgc's
// own paths replace mallocgc, see mallocgc_internal_paths), and the code
// ranges of every runtime.mallocgc* function, so that BPF counts an
// allocation once and for the first frame outside the allocator. A
// runtime.mallocgc* function of unknown role could be an entry point we
// would miss: refuse rather than undercount.
Status plan_exact(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  if (auto mallocgc = index.find("runtime.mallocgc"); !mallocgc) return mallocgc.error();
  // on_mallocgc reads the size in RAX and the type in RBX (go.bpf.c).
  auto facts = target::go_function_facts(t.build.version);
  if (!facts) return facts.error();
  if (facts->mallocgc_size_arg != 0 || facts->mallocgc_type_arg != 1)
    return Error{"runtime.mallocgc of " + t.build.version +
                 " does not take (size, type) first, where exact mode reads them; use --mode sampled"};
  std::vector<std::string> unknown;
  std::vector<target::CodeRange> ranges, internal;
  const std::vector<target::NamedGoFunction> allocator = index.find_prefix("runtime.mallocgc");
  for (const auto& fn : allocator) {
    const uint64_t lo = fn.range.entry, hi = fn.range.entry + fn.range.size;
    switch (target::allocator_role(fn.name)) {
      case target::AllocatorRole::kEntry: {
        auto site = entry_site(exe, index, fn.name);
        if (!site) return site.error();
        t.plan.alloc.push_back(*site);
        break;
      }
      case target::AllocatorRole::kInternal:
        internal.push_back({lo, hi});
        break;
      case target::AllocatorRole::kUnknown:
        unknown.push_back(fn.name);
        break;
    }
    // Go aligns functions to 32 bytes: a function that starts in the
    // previous one's padding continues its range.
    if (!ranges.empty() && lo <= ((ranges.back().hi + 31) & ~uint64_t{31}))
      ranges.back().hi = std::max(ranges.back().hi, hi);
    else
      ranges.push_back({lo, hi});
  }
  if (!unknown.empty())
    return Error{fmt::format("exact mode refused: {} has allocator function{} that mwscope does not know ({}{}), so it "
                             "could miss allocations ({}); the default sampled mode works",
                             exe.path(), unknown.size() > 1 ? "s" : "", unknown.front(),
                             unknown.size() > 1 ? fmt::format(" and {} more", unknown.size() - 1) : "",
                             t.build.version)};
  // A release newer than the table: the names are known, but prove that
  // the allocator's internal paths are reached only from allocator code,
  // that is through a probed entry point.
  if (target::go_version_beyond_table(t.build.version)) {
    auto bypass = target::direct_callers_outside(exe, index, internal, ranges);
    if (!bypass.empty())
      return Error{fmt::format("exact mode refused: in {} ({}, newer than mwscope knows) {} calls the allocator's "
                               "internal paths directly, around the entry points mwscope probes, so it could miss "
                               "allocations; the default sampled mode works",
                               exe.path(), t.build.version, bypass.front())};
  }
  if (ranges.size() > MWS_MAX_ALLOCATOR_RANGES)
    return Error{fmt::format("exact mode refused: the allocator code of {} lies in {} pieces, more than the {} mwscope "
                             "can tell apart; the default sampled mode works",
                             exe.path(), ranges.size(), MWS_MAX_ALLOCATOR_RANGES)};
  if (t.plan.alloc.size() > 1) {
    if (auto paths = mallocgc_internal_paths(exe, allocator); !paths.empty()) {
      std::erase_if(t.plan.alloc, [](const ProbeSite& s) { return s.symbol == "runtime.mallocgc"; });
      for (const auto& name : paths) {
        auto site = entry_site(exe, index, name);
        if (!site) return site.error();
        t.plan.alloc.push_back(*site);
      }
      t.plan.mallocgc_entry_unprobed = true;
    }
  }
  // runtime.mallocgc first: messages name it.
  std::stable_partition(t.plan.alloc.begin(), t.plan.alloc.end(),
                        [](const ProbeSite& s) { return s.symbol == "runtime.mallocgc"; });
  t.plan.allocator_ranges.count = static_cast<uint32_t>(ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) t.plan.allocator_ranges.range[i] = {ranges[i].lo, ranges[i].hi};
  return Ok{};
}

// Goroutine tracking: newproc1's RETs and goexit1's entry, plus the g
// offsets. Returns why not when something is missing.
// newproc's CALL runqput(pp, newg, true) in its systemstack closure: every
// such CALL (one in every version seen), or none when the closure, runqput
// or the call cannot be found (the caller then probes newproc1's RETs).
std::vector<ProbeSite> runqput_call_sites(const target::ElfFile& exe, const target::GoFunctionIndex& index,
                                          const target::GoFunctionFacts& facts) {
  std::vector<ProbeSite> sites;
  if (facts.runqput_g_arg != 1) return sites;  // on_newproc_runqput reads RBX
  auto closure = index.find(facts.newproc_closure);
  auto runqput = index.find("runtime.runqput");
  if (!closure || !runqput) return sites;
  for (uint64_t call : find_calls_to(exe.read_vaddr(closure->entry, closure->size), closure->entry, runqput->entry))
    sites.push_back({exe.path(), facts.newproc_closure + " CALL runtime.runqput",
                     closure->file_offset + (call - closure->entry), call, "CALL"});
  return sites;
}

std::string plan_tasks(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  if (!t.goroutines_unavailable.empty()) return t.goroutines_unavailable;
  auto facts = target::go_function_facts(t.build.version);
  if (!facts) return facts.error().message;
  t.plan.offsets = {t.offsets.g_goid, t.offsets.g_startpc, t.offsets.g_gopc, facts->coro_g_offset,
                    t.offsets.g_parent_goid};
  // Spawn contexts (bpf/events.h) need g.m, m.g0 and m.curg; without them
  // goroutines are still tracked, and allocations charged by stack only.
  if (t.offsets.g_m >= 0 && t.offsets.m_g0 >= 0 && t.offsets.m_curg >= 0)
    t.plan.spawn_ctx = {1, 0, t.offsets.g_m, t.offsets.m_g0, t.offsets.m_curg};

  // Goroutines made by `go`: where newproc hands the new g to the
  // scheduler, a CALL the kernel emulates; else every RET of newproc1,
  // each single-stepped (on_newproc_runqput, on_newproc1_ret in go.bpf.c).
  t.plan.spawn = runqput_call_sites(exe, index, *facts);
  if (t.plan.spawn.empty()) {
    auto newproc1 = index.find("runtime.newproc1");
    if (!newproc1) return newproc1.error().message;
    if (!facts->newproc1_returns_g) return "runtime.newproc1 of " + t.build.version + " does not return the new g";
    auto rets = find_ret_instructions(exe.read_vaddr(newproc1->entry, newproc1->size), newproc1->entry);
    if (rets.empty()) return "no RET instruction found in runtime.newproc1";
    for (uint64_t ret : rets)
      t.plan.spawn_newproc1_ret.push_back(
          {exe.path(), "runtime.newproc1", newproc1->file_offset + (ret - newproc1->entry), ret, "RET"});
  }
  // Coroutines (iter.Pull): newcoro's RETs, single-stepped but rare. A
  // binary that never makes one has no newcoro (the linker drops it).
  if (auto newcoro = index.find("runtime.newcoro"); facts->has_newcoro && newcoro) {
    auto rets = find_ret_instructions(exe.read_vaddr(newcoro->entry, newcoro->size), newcoro->entry);
    if (rets.empty()) return "no RET instruction found in runtime.newcoro";
    for (uint64_t ret : rets)
      t.plan.spawn_coro.push_back(
          {exe.path(), "runtime.newcoro", newcoro->file_offset + (ret - newcoro->entry), ret, "RET"});
  }

  // Go >= 1.22 ends every goroutine in gdestroy: goexit0 calls it, and so
  // does a coroutine (iter.Pull) that ends without goexit1. Probing it
  // alone sees both, once each. Older versions end through goexit1.
  if (facts->has_gdestroy) {
    auto gdestroy = entry_site(exe, index, facts->gdestroy_function);
    if (!gdestroy) return gdestroy.error().message;
    t.plan.exit_gdestroy.push_back(*gdestroy);
  } else {
    auto goexit1 = entry_site(exe, index, "runtime.goexit1");
    if (!goexit1) return goexit1.error().message;
    t.plan.exit.push_back(*goexit1);
  }
  return "";
}

// Every goroutine, read from memory at attach and at the end (no probe):
// runtime.allgs and the g offsets. Returns why not, or "".
std::string plan_goroutine_reading(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  auto offsets = target::go_runtime_offsets(exe, t.build.version);
  if (!offsets) return offsets.error().message;
  if (offsets->g_goid < 0) return "the offset of runtime.g.goid is unknown for " + t.build.version;
  t.offsets = *offsets;
  t.allgs_vaddr = target::find_allgs(exe, index);  // without it, the readings say so
  return "";
}


struct TinyFlushSite {
  ProbeSite site;
  uint32_t mcache_reg = MWS_REG_NONE;
};

// refill(c *mcache, spc spanClass) flushes c.tinyAllocs only in
//     if spc == tinySpanClass { atomic.Xadd64(&stats.tinyAllocCount, int64(c.tinyAllocs)); c.tinyAllocs = 0 }
// (mcache.go, 1.17-1.27; 1.26 added a second `spc == tinySpanClass` branch
// that does not touch tinyAllocs). The probe sits on the load of
// c.tinyAllocs in that branch, single-stepped but hit once per 512 tiny
// blocks: far less often than refill's entry, hit per span of every size
// class. Exactly one such load, or no site: a guess could count nothing,
// or twice.
Result<TinyFlushSite> tiny_flush_site(const target::ElfFile& exe, const target::GoFunctionIndex& index,
                                      const target::GoFunctionFacts& facts) {
  const std::string name = "runtime.(*mcache).refill";
  auto fn = index.find(name);
  if (!fn) return fn.error();
  // The size is the binary's word (its pclntab): refill is about 1 KiB in
  // every Go version; a function claiming more is not decoded.
  constexpr uint64_t kMaxRefillBytes = 64 << 10;
  if (fn->size > kMaxRefillBytes)
    return Error{fmt::format("{} claims {} bytes of code (at most {} expected)", name, fn->size, kMaxRefillBytes)};
  auto flushes = find_counter_flushes(exe.read_vaddr(fn->entry, fn->size), fn->entry, facts.mcache_tiny_allocs_offset);
  if (flushes.size() != 1)
    return Error{fmt::format("{} flushes c.tinyAllocs (offset {}) in {} places, not one", name,
                             facts.mcache_tiny_allocs_offset, flushes.size())};
  const uint32_t reg = pt_regs_register(flushes.front().base);
  if (reg == MWS_REG_NONE) return Error{name + ": the mcache is in a register mwscope does not read"};
  const uint64_t load = flushes.front().load;
  return TinyFlushSite{{exe.path(), name + " tiny flush", fn->file_offset + (load - fn->entry), load,
                        "load of c.tinyAllocs"},
                       reg};
}

// The runtime's heap sampler: one trap where it records a sample
// (runtime.mProf_Malloc, a real function in every version; checked in
// binaries 1.19-1.27). Nothing else is probed per sample: the frees of
// sampled objects are the runtime's own per-bucket counts, read from its
// memory at both ends of the recording (interpret::add_heap_inuse), which
// cost no trap where probes on setprofilebucket and mProf_Free cost two
// more per sample.
Status plan_sampled(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  auto facts = target::go_function_facts(t.build.version);
  if (!facts) return facts.error();
  t.plan.mprof_args = {static_cast<uint32_t>(facts->mprof_malloc_ptr_arg),
                       static_cast<uint32_t>(facts->mprof_malloc_size_arg),
                       static_cast<uint32_t>(facts->mcache_tiny_allocs_offset), MWS_REG_NONE};
  auto site = entry_site(exe, index, "runtime.mProf_Malloc");
  if (!site) return Error{site.error().message + "; try --mode exact"};
  t.plan.sample_alloc.push_back(*site);
  // Where the runtime flushes its count of the tiny allocations the
  // sampler cannot see (go.bpf.c, on_mcache_tiny_flush and
  // on_mcache_release_all): inside refill's tiny-span branch (a trap per
  // refill of the tiny span, not per refill of every size class) and at
  // releaseAll's entry (per GC per P). Both or neither; without them the
  // report says the count is unknown.
  auto tiny = tiny_flush_site(exe, index, *facts);
  auto release_all = entry_site(exe, index, "runtime.(*mcache).releaseAll");
  if (tiny && release_all) {
    t.plan.tiny_refill.push_back(tiny->site);
    t.plan.tiny_release_all.push_back(*release_all);
    t.plan.mprof_args.tiny_flush_mcache_reg = tiny->mcache_reg;
  }
  t.mem_profile_rate_vaddr = target::find_mem_profile_rate(exe, index);
  if (!t.mem_profile_rate_vaddr)
    return Error{"cannot find runtime.MemProfileRate in " + exe.path() + "; try --mode exact"};
  return Ok{};
}

// The heap profile the runtime keeps (mprof.go), read from memory: no
// probe, so it is planned in every mode. Returns why not, or "".
std::string plan_heap_reading(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  auto facts = target::go_function_facts(t.build.version);
  if (!facts) return facts.error().message;
  if (!facts->heap_profile_readable) return "the runtime's memory profile is read from go1.19 on";
  if (!t.mem_profile_rate_vaddr) t.mem_profile_rate_vaddr = target::find_mem_profile_rate(exe, index);
  if (!t.mem_profile_rate_vaddr) return "runtime.MemProfileRate not found";
  t.heap_vars = target::find_heap_profile_variables(exe, index);
  if (!t.heap_vars) return "runtime.mbuckets not found";
  return "";
}

// --by-route: every router's route site (probes/route_sites.h). A route
// is the request's only with the request's start: the requests probe, or
// in sampled mode the request's key (plan.request_key).
void plan_routes(const target::ElfFile& exe, const target::GoFunctionIndex& index, GoTarget& t) {
  if (t.plan.requests.empty() && t.plan.request_key.ret == 0) {
    t.routes_unavailable = "needs the request probe: " + t.requests_unavailable;
    return;
  }
  RouteSites found = find_route_sites(exe, index, t.build);
  t.routers_refused = std::move(found.refused);
  for (RouteSite& r : found.sites) {
    if (std::find(t.routers.begin(), t.routers.end(), r.router) == t.routers.end()) t.routers.push_back(r.router);
    t.plan.routes.push_back(RouteProbe{std::move(r.probe), r.spec});
  }
  if (t.plan.routes.size() > MWS_ROUTE_SITES_MAX) {
    t.plan.routes.clear();
    t.routers.clear();
    t.routes_unavailable = "more route sites than mwscope can hold (" + std::to_string(MWS_ROUTE_SITES_MAX) + ")";
  } else if (t.plan.routes.empty()) {
    t.routes_unavailable = "no router found in this binary (net/http.ServeMux, gin, chi, echo, gorilla/mux)";
  } else {
    t.routes_unavailable.clear();
  }
}

}  // namespace

bool is_go_program(const target::ElfFile& exe) {
  return target::is_go_executable(exe);
}

GoTarget not_go_target() {
  GoTarget t;
  const std::string why = "not a Go program";
  t.tasks_unavailable = t.goroutines_unavailable = t.requests_unavailable = t.heap_unavailable = why;
  t.offsets.source = why;
  return t;
}

Result<GoTarget> plan_go_probes(const target::ElfFile& exe, const std::string& what, const PlanRequest& req) {
  GoTarget t;
  auto build = target::read_go_buildinfo(exe);
  // No .go.buildinfo header (esbuild 0.28.2, go1.26.5, ships without one):
  // the version is runtime.buildVersion, found through .gopclntab.
  std::optional<target::GoFunctionIndex> index;
  if (!build) {
    index.emplace(exe, "", what, req.stop);
    if (auto v = target::find_build_version(exe, *index)) build = target::GoBuildInfo{*v, ""};
  }
  if (!build)
    return Error{what + " is not a Go program (its executable has no Go build information); mwscope profiles Go servers"};
  t.build = *build;
  auto ver = target::parse_go_version(build->version);
  if (ver && *ver < std::make_pair(1, 17))
    return Error{what + " was built with " + build->version + "; mwscope needs Go >= 1.17 (register ABI)"};
  t.stripped = !exe.has_symtab();
  if (!index) index.emplace(exe, build->version, what, req.stop);
  if (auto goexit = index->find("runtime.goexit")) t.plan.goexit_code = {goexit->entry, goexit->entry + goexit->size};
  if (req.allocations == AllocationProbes::Exact) {
    if (auto st = plan_exact(exe, *index, t); !st) return Error{what + ": " + st.error().message};
  } else if (req.allocations == AllocationProbes::Sampled) {
    if (auto st = plan_sampled(exe, *index, t); !st) return Error{what + ": " + st.error().message};
  }
  // Every request of a net/http server passes serverHandler.ServeHTTP
  // once (gin, echo, chi... all sit behind it).
  if (auto f = index->find("net/http.serverHandler.ServeHTTP")) t.plan.request_code = {f->entry, f->entry + f->size};
  // Routes need each request's start: exact mode takes it from the request
  // probe; sampled mode names requests by key at no trap of its own, and
  // takes the probe only where the key cannot be read.
  bool count_requests = req.requests;
  if (req.routes && req.allocations == AllocationProbes::Sampled && t.plan.request_code.hi != 0) {
    if (auto key = find_request_key_site(exe, *index))
      t.plan.request_key = *key;
    else
      t.request_key_unavailable = key.error().message;
  }
  if (req.routes && t.plan.request_key.ret == 0) count_requests = true;
  if (!count_requests)
    t.requests_unavailable = "requests not counted (one uprobe trap per request; --requests turns it on)";
  else if (auto site = entry_site(exe, *index, "net/http.serverHandler.ServeHTTP"))
    t.plan.requests.push_back(*site);
  else
    t.requests_unavailable = "no net/http server in this binary (net/http.serverHandler.ServeHTTP not found)";
  if (req.routes) plan_routes(exe, *index, t);
  t.goroutines_unavailable = plan_goroutine_reading(exe, *index, t);
  // Sampled --by-route names an HTTP/2 request by its goroutine's goid.
  if (t.plan.request_key.ret != 0) t.plan.offsets.g_goid = t.offsets.g_goid;
  if (req.tasks) {
    t.tasks_unavailable = plan_tasks(exe, *index, t);
    if (!t.tasks_unavailable.empty()) {
      t.plan.spawn.clear();
      t.plan.spawn_newproc1_ret.clear();
      t.plan.spawn_coro.clear();
      t.plan.exit.clear();
      t.plan.exit_gdestroy.clear();
    }
  } else {
    t.tasks_unavailable = "not requested: it costs two uprobe traps per goroutine, and net/http starts one per request; --goroutines turns it on";
  }
  t.heap_unavailable = plan_heap_reading(exe, *index, t);
  return t;
}

}  // namespace mws::probes
