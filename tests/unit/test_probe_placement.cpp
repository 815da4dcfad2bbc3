// Where probes go, checked against the Go toolchain's own disassembler.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "go_objdump.h"
#include "probes/go_probe_plan.h"
#include "probes/prologue.h"
#include "probes/instruction_sites.h"
#include "record/prepared_target.h"
#include "fixture_builds.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_functions.h"

using namespace mws;

namespace {

using test::objdump;

size_t count_lines_containing(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) n++;
  return n;
}

}  // namespace

TEST_CASE("entry probes sit on the stack-check jump, RETs are all found", "[probes]") {
  const std::string bin = std::string(MWS_FIXTURE_DIR) + "/allocserver";
  auto elf = target::ElfFile::open(bin);
  REQUIRE(elf);
  for (const char* name : {"runtime.mallocgc", "runtime.goexit1"}) {
    INFO(name);
    auto sym = (*elf)->find_symbol(name);
    REQUIRE(sym);
    auto placement = probes::find_entry_probe_offset((*elf)->read_vaddr(sym->value, sym->size), sym->value);
    REQUIRE(placement.on_stack_check_jump);
    // The Go disassembler shows a JBE at exactly that address.
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(sym->value + placement.offset));
    std::string dis = objdump(bin, name);
    auto line_at = dis.find(addr);
    REQUIRE(line_at != std::string::npos);
    CHECK(dis.substr(line_at, dis.find('\n', line_at) - line_at).find("JBE") != std::string::npos);
  }
  auto newproc1 = (*elf)->find_symbol("runtime.newproc1");
  REQUIRE(newproc1);
  auto rets = probes::find_ret_instructions((*elf)->read_vaddr(newproc1->value, newproc1->size), newproc1->value);
  std::string dis = objdump(bin, "runtime.newproc1");
  CHECK(rets.size() == count_lines_containing(dis, "\tRET"));
  for (uint64_t r : rets) {
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(r));
    CHECK(dis.find(addr) != std::string::npos);
  }
}

TEST_CASE("goroutine spawn probes sit on newproc's CALL runqput and newcoro's RETs, as Go's disassembler shows",
          "[probes]") {
  for (const std::string& build : test::fixture_builds()) {
    INFO("build " << build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "taskserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    probes::PlanRequest req;
    req.allocations = probes::AllocationProbes::None;
    auto plan = probes::plan_go_probes(**elf, "taskserver", req);
    REQUIRE(plan);
    INFO(plan->tasks_unavailable);
    // One emulated CALL: the new g in RBX, no RET single-stepped per goroutine.
    CHECK(plan->plan.spawn_newproc1_ret.empty());
    REQUIRE(plan->plan.spawn.size() == 1);
    const auto& site = plan->plan.spawn.front();
    CHECK(site.placement == "CALL");
    const std::string dis = objdump(bin, "runtime.newproc.func1");
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(site.vaddr));
    const auto line_at = dis.find(addr);
    REQUIRE(line_at != std::string::npos);
    CHECK(dis.substr(line_at, dis.find('\n', line_at) - line_at).find("CALL runtime.runqput(SB)") != std::string::npos);
    // Coroutines (the fixture makes them from go1.23): every RET of newcoro.
    if (build.empty() || build == "go1.21/" || build == "go1.22/") {
      CHECK(plan->plan.spawn_coro.empty());
      continue;
    }
    const std::string coro = objdump(bin, "runtime.newcoro");
    CHECK(plan->plan.spawn_coro.size() == count_lines_containing(coro, "\tRET"));
    for (const auto& ret : plan->plan.spawn_coro) {
      snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(ret.vaddr));
      CHECK(coro.find(addr) != std::string::npos);
    }
  }
}

TEST_CASE("a function without the Go stack check keeps its probe at the entry", "[probes]") {
  // push rbp; mov rbp, rsp; ... (a C prologue)
  const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc3};
  auto p = probes::find_entry_probe_offset(code, 0x1000);
  CHECK(p.offset == 0);
  CHECK_FALSE(p.on_stack_check_jump);
  CHECK(probes::find_ret_instructions(code, 0x1000) == std::vector<uint64_t>{0x1008});
}

TEST_CASE("sampled mode traps once per runtime sample: runtime.mProf_Malloc only, frees read from memory",
          "[probes][sampled]") {
  std::vector<std::string> builds = test::fixture_builds();
#ifdef MWS_GO_MATRIX
  builds.push_back("go1.26-sizespecializedmalloc/");
#endif
  for (const std::string& build : builds) {
    INFO("build " << build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    probes::PlanRequest req;
    req.tasks = false;
    req.requests = false;
    auto t = probes::plan_go_probes(**elf, bin, req);
    REQUIRE(t);
    // One site per sample (the runtime's own sampler); the tiny count's two
    // sites trap per tiny-span refill and per GC per P, not per sample. No
    // allocator probe, and no probe on setprofilebucket or mProf_Free: the
    // frees come from the runtime's profile buckets.
    const probes::GoProbePlan& p = t->plan;
    REQUIRE(p.sample_alloc.size() == 1);
    CHECK(p.sample_alloc.front().symbol == "runtime.mProf_Malloc");
    CHECK(p.sample_alloc.front().on_stack_check_jump);
    CHECK(p.alloc.empty());
    CHECK(p.tiny_refill.size() == 1);
    CHECK(p.tiny_release_all.size() == 1);
    CHECK(p.spawn.empty());
    CHECK(p.exit.empty());
    CHECK(p.requests.empty());
    CHECK(t->heap_unavailable.empty());  // where the frees come from

    record::PreparedTarget prepared;
    prepared.plan = *t;
    prepared.what = "allocserver";
    prepared.sample_rate = 4096;
    const std::string line = record::attached_line(prepared, 3);
    INFO(line);
    CHECK(line.find("sampled allocations: runtime.mProf_Malloc, (*mcache).refill and releaseAll for the "
                    "tiny-allocation count (MemProfileRate 4096 B; frees from the runtime's profile buckets)") !=
          std::string::npos);
    CHECK(line.find("setprofilebucket") == std::string::npos);
    CHECK(line.find("mProf_Free") == std::string::npos);
  }
}

TEST_CASE("the tiny-allocation count is read where refill flushes it, as Go's disassembler shows", "[probes][tiny]") {
  std::vector<std::string> builds = test::fixture_builds();
#ifdef MWS_GO_MATRIX
  builds.push_back("go1.26-sizespecializedmalloc/");
#endif
  const char* go_reg[] = {"", "AX", "BX", "CX", "DX", "SI", "DI", "BP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15"};
  for (const std::string& build : builds) {
    INFO("build " << build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    probes::PlanRequest req;
    req.tasks = false;
    auto t = probes::plan_go_probes(**elf, bin, req);
    REQUIRE(t);
    REQUIRE(t->plan.tiny_refill.size() == 1);
    REQUIRE(t->plan.tiny_release_all.size() == 1);
    const auto& site = t->plan.tiny_refill.front();
    const uint32_t reg = t->plan.mprof_args.tiny_flush_mcache_reg;
    REQUIRE(reg > MWS_REG_NONE);
    REQUIRE(reg <= MWS_REG_R15);
    // Go's disassembler: MOVQ off(Rc), Rx at the site, then the LOCK XADDQ
    // of Rx and the store of 0, right after `CMPL $0x5` (tinySpanClass).
    const std::string dis = objdump(bin, "runtime.\\(\\*mcache\\).refill");
    char addr[32], load[64];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(site.vaddr));
    snprintf(load, sizeof(load), "MOVQ 0x%x(%s), ", t->plan.mprof_args.mcache_tiny_allocs_offset, go_reg[reg]);
    const auto line_at = dis.find(addr);
    REQUIRE(line_at != std::string::npos);
    const auto line_end = dis.find('\n', line_at);
    INFO(dis.substr(line_at, line_end - line_at));
    CHECK(dis.substr(line_at, line_end - line_at).find(load) != std::string::npos);
    const auto next_end = dis.find('\n', line_end + 1);
    CHECK(dis.substr(line_end, next_end - line_end).find("LOCK XADDQ") != std::string::npos);
    const auto branch = dis.rfind("CMPL $0x5, ", line_at);
    REQUIRE(branch != std::string::npos);
    CHECK(count_lines_containing(dis.substr(branch, line_at - branch), "\n") <= 3);
  }
}

TEST_CASE("a counter flush is a load, a LOCK XADD of it and a store of 0, the struct pointer unchanged", "[probes][tiny]") {
  // MOVQ 0x20(DX), BX; LOCK XADDQ BX, 0x30(AX); MOVQ $0, 0x20(DX)
  const std::vector<uint8_t> load = {0x48, 0x8b, 0x5a, 0x20}, xadd = {0xf0, 0x48, 0x0f, 0xc1, 0x58, 0x30},
                             store = {0x48, 0xc7, 0x42, 0x20, 0, 0, 0, 0}, move_dx = {0x48, 0x89, 0xc2};  // MOVQ AX, DX
  auto cat = [](std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto flushes = probes::find_counter_flushes(cat({load, xadd, store}), 0x1000, 0x20);
  REQUIRE(flushes.size() == 1);
  CHECK(flushes[0].load == 0x1000);
  CHECK(flushes[0].base == X86_REG_RDX);
  CHECK(probes::find_counter_flushes(cat({load, xadd, store}), 0x1000, 0x28).empty());   // another member
  CHECK(probes::find_counter_flushes(cat({load, store}), 0x1000, 0x20).empty());         // not added anywhere
  CHECK(probes::find_counter_flushes(cat({load, xadd}), 0x1000, 0x20).empty());          // not zeroed
  CHECK(probes::find_counter_flushes(cat({load, xadd, move_dx, store}), 0x1000, 0x20).empty());  // another struct
  CHECK(probes::find_counter_flushes(cat({load, xadd, store, load, xadd, store}), 0x1000, 0x20).size() == 2);
}

#include "target/go_functions.h"

TEST_CASE("runtime.allgs found from runtime.allgadd's code equals the symbol", "[probes]") {
  auto elf = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  REQUIRE(elf);
  target::GoFunctionIndex index(**elf, "go1.19", "fixture");
  auto sym = (*elf)->find_symbol("runtime.allgs");
  REQUIRE(sym);
  CHECK(target::find_allgs_in_code(**elf, index) == sym->value);

  // The stripped build has no symbol: functions come from .gopclntab.
  auto stripped = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped");
  REQUIRE(stripped);
  REQUIRE_FALSE((*stripped)->has_symtab());
  target::GoFunctionIndex sindex(**stripped, "go1.19", "fixture");
  auto mallocgc = sindex.find("runtime.mallocgc");
  REQUIRE(mallocgc);
  CHECK(mallocgc->entry == (*elf)->find_symbol("runtime.mallocgc")->value);
  // -s -w shifts the data sections a little but keeps their order: allgs
  // sits at the same offset into .bss.
  const uint64_t bss_full = (*elf)->section(".bss")->addr, bss_stripped = (*stripped)->section(".bss")->addr;
  auto found = target::find_allgs(**stripped, sindex);
  REQUIRE(found);
  CHECK(*found - bss_stripped == sym->value - bss_full);
}

TEST_CASE("runtime.MemProfileRate found from runtime.profilealloc's code equals the symbol", "[probes]") {
  auto elf = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  REQUIRE(elf);
  target::GoFunctionIndex index(**elf, "go1.19", "fixture");
  auto sym = (*elf)->find_symbol("runtime.MemProfileRate");
  REQUIRE(sym);
  CHECK(target::find_mem_profile_rate_in_code(**elf, index) == sym->value);
}

TEST_CASE("runtime.mbuckets and runtime.mProfCycle found from the profiler's code equal the symbols", "[probes]") {
  for (const std::string& build : test::fixture_builds()) {
    INFO("build " << build);
    auto elf = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver");
    REQUIRE(elf);
    target::GoFunctionIndex index(**elf, "go1.19", "fixture");
    auto buckets = (*elf)->find_symbol("runtime.mbuckets");
    auto cycle = (*elf)->find_symbol("runtime.mProfCycle");
    REQUIRE(buckets);
    REQUIRE(cycle);
    auto found = target::find_heap_profile_variables_in_code(**elf, index);
    REQUIRE(found);
    CHECK(found->mbuckets == buckets->value);
    CHECK(found->mprof_cycle == cycle->value);
  }
}

#ifdef MWS_GO_MATRIX
// The runtime.mallocgc* functions `func` calls directly, per go tool objdump.
std::set<std::string> allocator_calls(const std::string& bin, const std::string& func) {
  std::set<std::string> out;
  const std::string text = objdump(bin, func);
  for (size_t pos = text.find("CALL runtime.mallocgc"); pos != std::string::npos;
       pos = text.find("CALL runtime.mallocgc", pos + 1)) {
    const size_t name = pos + 5, end = text.find("(SB)", name);
    if (end != std::string::npos) out.insert(text.substr(name, end - name));
  }
  return out;
}

// Exact mode's plan for `bin`, goroutines not tracked.
probes::GoTarget exact_plan(const target::ElfFile& elf, const std::string& bin) {
  probes::PlanRequest req;
  req.allocations = probes::AllocationProbes::Exact;
  req.tasks = false;
  auto t = probes::plan_go_probes(elf, bin, req);
  INFO((t ? "" : t.error().message));
  REQUIRE(t);
  return *t;
}

TEST_CASE("exact mode traps once per allocation: Go 1.27's entry points and the paths mallocgc calls, mallocgc before",
          "[probes][matrix]") {
  for (const std::string build : {"go1.21", "go1.26", "go1.26-sizespecializedmalloc", "go1.27"}) {
    INFO(build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "/allocserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    const probes::GoTarget planned = exact_plan(**elf, bin);
    const auto& plan = planned.plan;
    REQUIRE(!plan.alloc.empty());
    const bool specialised = build == "go1.27" || build == "go1.26-sizespecializedmalloc";
    CHECK(plan.mallocgc_entry_unprobed == specialised);
    std::set<std::string> probed;
    for (const auto& site : plan.alloc) probed.insert(site.symbol);
    if (!specialised) {
      CHECK(probed == std::set<std::string>{"runtime.mallocgc"});
    } else {
      // mallocgc hands every allocation to a probed function: each internal
      // path it calls is probed, and it is not; so is every entry point.
      const std::set<std::string> from_mallocgc = allocator_calls(bin, "runtime.mallocgc");
      REQUIRE(!from_mallocgc.empty());
      CHECK_FALSE(probed.contains("runtime.mallocgc"));
      for (const auto& callee : from_mallocgc) {
        INFO(callee);
        CHECK(probed.contains(callee));
      }
      target::GoFunctionIndex index(**elf, planned.build.version, bin);
      std::vector<target::CodeRange> paths, mallocgc;
      for (const auto& fn : index.find_prefix("runtime.mallocgc")) {
        INFO(fn.name);
        const auto role = target::allocator_role(fn.name);
        if (role == target::AllocatorRole::kEntry && fn.name != "runtime.mallocgc") CHECK(probed.contains(fn.name));
        if (role == target::AllocatorRole::kInternal) CHECK(probed.contains(fn.name) == from_mallocgc.contains(fn.name));
        const target::CodeRange r{fn.range.entry, fn.range.entry + fn.range.size};
        if (fn.name == "runtime.mallocgc") mallocgc.push_back(r);
        if (role == target::AllocatorRole::kInternal && probed.contains(fn.name)) paths.push_back(r);
      }
      // Nothing but mallocgc calls the probed paths, not even the entry
      // points' slow paths: no allocation passes two probes.
      CHECK(target::direct_callers_outside(**elf, index, paths, mallocgc).empty());
      // What the attached line says.
      record::PreparedTarget prepared;
      prepared.plan = planned;
      prepared.what = "allocserver";
      const std::string line = record::attached_line(prepared, static_cast<uint32_t>(plan.alloc.size()));
      INFO(line);
      CHECK(line.find(fmt::format("allocations: {} size-specialised allocators and the {} paths runtime.mallocgc calls "
                                  "(one trap per allocation)",
                                  plan.alloc.size() - paths.size(), paths.size())) != std::string::npos);
      // No probed function calls another: one allocation, one trap.
      for (const auto& caller : probed)
        for (const auto& callee : allocator_calls(bin, caller)) {
          INFO(caller << " calls " << callee);
          CHECK_FALSE(probed.contains(callee));
        }
    }
    // Every probe sits on its function's stack-check jump.
    for (const auto& site : plan.alloc) {
      INFO(site.symbol);
      CHECK(site.on_stack_check_jump);
    }
    // The allocator ranges hold every runtime.mallocgc* function, and nothing
    // that calls an allocator from outside (the middleware).
    target::GoFunctionIndex index(**elf, planned.build.version, bin);
    auto inside = [&](uint64_t addr) {
      for (uint32_t i = 0; i < plan.allocator_ranges.count; i++)
        if (addr >= plan.allocator_ranges.range[i].lo && addr < plan.allocator_ranges.range[i].hi) return true;
      return false;
    };
    REQUIRE(plan.allocator_ranges.count >= 1);
    CHECK(plan.allocator_ranges.count <= MWS_MAX_ALLOCATOR_RANGES);
    for (const auto& fn : index.find_prefix("runtime.mallocgc")) {
      INFO(fn.name);
      CHECK(inside(fn.range.entry));
      CHECK(inside(fn.range.entry + fn.range.size - 1));
    }
    for (const char* caller : {"main.workHandler", "runtime.newobject", "runtime.makeslice"}) {
      auto fn = index.find(caller);
      REQUIRE(fn);
      CHECK_FALSE(inside(fn->entry));
    }
  }
  // A stripped build (functions from .gopclntab) gets the same probes.
  auto sites_of = [](const std::string& bin) {
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    const probes::GoProbePlan plan = exact_plan(**elf, bin).plan;
    std::set<uint64_t> sites;
    for (const auto& site : plan.alloc) sites.insert(site.vaddr);
    CHECK(plan.mallocgc_entry_unprobed);
    return sites;
  };
  const std::string dir = std::string(MWS_FIXTURE_DIR) + "/go1.27/";
  CHECK(sites_of(dir + "routemux_stripped") == sites_of(dir + "routemux"));
}
#endif

TEST_CASE("exact mode refuses a binary with an allocator function it does not know", "[probes]") {
  // unknownalloc defines runtime.mallocgcHuge, as a newer Go might.
  const std::string bin = std::string(MWS_FIXTURE_DIR) + "/unknownalloc";
  auto elf = target::ElfFile::open(bin);
  REQUIRE(elf);
  probes::PlanRequest req;
  req.allocations = probes::AllocationProbes::Exact;
  req.tasks = false;
  req.requests = false;
  auto t = probes::plan_go_probes(**elf, "process 1 (unknownalloc)", req);
  REQUIRE_FALSE(t);
  INFO(t.error().message);
  CHECK(t.error().message.find("exact mode refused") != std::string::npos);
  CHECK(t.error().message.find("runtime.mallocgcHuge") != std::string::npos);
  CHECK(t.error().message.find("the default sampled mode works") != std::string::npos);
  CHECK(t.error().message.find('\n') == std::string::npos);
  // Sampled mode does not depend on knowing every allocator entry point.
  req.allocations = probes::AllocationProbes::Sampled;
  CHECK(probes::plan_go_probes(**elf, "process 1 (unknownalloc)", req));
}

#ifdef MWS_GO_MATRIX
TEST_CASE("the allocator's internal paths are called only from allocator code, on every real toolchain",
          "[probes][matrix]") {
  // The proof exact mode runs on a Go release newer than the table, checked
  // here on the releases the table knows: it must hold on all of them.
  for (const std::string build : {"go1.24", "go1.26", "go1.26-sizespecializedmalloc", "go1.27"}) {
    INFO(build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "/allocserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    target::GoFunctionIndex index(**elf, "", bin);
    std::vector<target::CodeRange> internal, allocator, mallocgc_only;
    for (const auto& fn : index.find_prefix("runtime.mallocgc")) {
      const target::CodeRange r{fn.range.entry, fn.range.entry + fn.range.size};
      allocator.push_back(r);
      if (target::allocator_role(fn.name) == target::AllocatorRole::kInternal) internal.push_back(r);
      if (fn.name == "runtime.mallocgc") mallocgc_only.push_back(r);
    }
    REQUIRE(!internal.empty());  // 1.24+ split mallocgc into per-kind paths
    CHECK(target::direct_callers_outside(**elf, index, internal, allocator).empty());
    // And the scan does see calls: allowing mallocgc alone, go1.27's
    // size-specialised entries (which call their slow paths) are callers
    // from outside it.
    auto outside = target::direct_callers_outside(**elf, index, internal, mallocgc_only);
    if (build == "go1.27") {
      REQUIRE(!outside.empty());
      for (const auto& caller : outside) CHECK(caller.rfind("runtime.mallocgc", 0) == 0);
    }
  }
}
#endif

TEST_CASE("the frame walk stops at runtime.goexit, found with a symbol table as in the stripped build", "[probes]") {
  // Assembly functions are NAME.abi0 in the symbol table and NAME in
  // .gopclntab; a plan that missed it walked one frame past every
  // goroutine's top on binaries with symbols only.
  auto plan_of = [](const std::string& bin) {
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    probes::PlanRequest req;
    auto t = probes::plan_go_probes(**elf, bin, req);
    REQUIRE(t);
    return t->plan.goexit_code;
  };
  for (const std::string& build : test::fixture_builds()) {
    INFO("build " << build);
    const std::string bin = std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver";
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    auto sym = (*elf)->find_symbol("runtime.goexit.abi0");
    REQUIRE(sym);
    const mws_code_range goexit = plan_of(bin);
    CHECK(goexit.lo == sym->value);
    CHECK(goexit.hi == sym->value + sym->size);
  }
  const mws_code_range full = plan_of(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  const mws_code_range stripped = plan_of(std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped");
  CHECK(full.lo != 0);
  CHECK(stripped.lo == full.lo);
  // .gopclntab's size runs to the next function (padding included); both
  // hold the return address at every goroutine's top, after goexit's NOP.
  CHECK(stripped.hi >= full.hi);
  CHECK(full.hi > full.lo + 1);
}
