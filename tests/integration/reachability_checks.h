// Helpers of the reachability tests (test_reachability.cpp and, with the
// toolchain matrix, test_reachability_matrix.cpp): run the analysis on a
// live fixture the way the integrator does, and read leakreach's construction.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "harness.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "target/go_goroutines.h"
#include "target/go_reachability.h"
#include "target/process.h"
#include "target/remote_memory.h"

namespace mws::test::reach {

using json = nlohmann::json;


struct Analysis {
  std::set<uint64_t> unreachable, all;
  target::ReachabilityVerdicts verdicts;
  std::string version;
};

// Reads the goroutines the way the integrator does and runs the analysis.
inline Analysis analyse(pid_t pid, const target::ReachabilityLimits& limits = {}) {
  auto proc = target::inspect_process(pid);
  REQUIRE(proc);
  auto exe = target::ElfFile::open(proc->exe_path);
  REQUIRE(exe);
  auto bi = target::read_go_buildinfo(**exe);
  REQUIRE(bi);
  auto bias = target::load_bias(*proc, **exe);
  REQUIRE(bias);
  auto off = target::go_runtime_offsets(**exe, bi->version);
  REQUIRE(off);
  target::GoFunctionIndex index(**exe, bi->version, "leakreach");
  auto allgs = target::find_allgs(**exe, index);
  REQUIRE(allgs);
  target::RemoteMemory mem(pid);
  auto gs = target::read_live_goroutines(mem, *allgs + uint64_t(*bias), *off);
  REQUIRE(gs);
  std::vector<target::BlockedGoroutine> in;
  for (const auto& g : *gs) {
    uint64_t stack[2] = {};
    mem.read(g.g_addr, stack, sizeof(stack));
    in.push_back({g.g_addr, g.goid, stack[0], stack[1], g.state.status, g.state.waitreason});
  }
  auto v = target::find_unreachable_waits(mem, pid, bi->version, **exe, uint64_t(*bias), in, limits);
  if (!v) FAIL(v.error().message);
  Analysis a;
  a.version = bi->version;
  a.verdicts = *v;
  REQUIRE(v->unreachable.size() == in.size());
  for (size_t i = 0; i < in.size(); i++) {
    a.all.insert(in[i].goid);
    if (v->unreachable[i]) a.unreachable.insert(in[i].goid);
  }
  return a;
}

struct Construction {
  std::map<std::string, std::set<uint64_t>> by_category;
  // unreachable: must be found so; reachable: must never be; maybe: truly
  // unreachable, but a conservative scan may miss it (either verdict is right).
  std::set<uint64_t> unreachable, reachable, maybe;
};

inline Construction read_construction(Child& c) {
  auto line = c.wait_stdout_line("construction ", std::chrono::seconds(20));
  REQUIRE(line);
  json j = json::parse(line->substr(line->find('{')));
  Construction out;
  std::set<std::string> unreachable_names, maybe_names;
  for (const auto& n : j["unreachable"]) unreachable_names.insert(n.get<std::string>());
  if (j.contains("maybe"))
    for (const auto& n : j["maybe"]) maybe_names.insert(n.get<std::string>());
  for (auto& [name, ids] : j.items()) {
    if (name == "unreachable" || name == "maybe") continue;
    for (const auto& id : ids) {
      out.by_category[name].insert(id.get<uint64_t>());
      (unreachable_names.count(name) ? out.unreachable : maybe_names.count(name) ? out.maybe : out.reachable)
          .insert(id.get<uint64_t>());
    }
  }
  return out;
}

inline std::string describe(const Analysis& a, const Construction& c) {
  std::ostringstream s;
  s << a.version << ": candidates " << a.verdicts.candidates << ", " << a.verdicts.bytes_scanned << " bytes in "
    << a.verdicts.seconds << " s" << (a.verdicts.cut_short ? ", cut: " + a.verdicts.cut_reason : "") << "\n";
  for (const auto& [name, ids] : c.by_category) {
    s << name << ":";
    for (uint64_t id : ids) s << " " << id << (a.unreachable.count(id) ? "(U)" : "");
    s << "\n";
  }
  s << "unreachable:";
  for (uint64_t id : a.unreachable) s << " " << id;
  return s.str();
}

// Every goroutine the construction says must be unreachable is found so, and
// nothing the construction calls reachable is ("maybe" ones may go either way).
inline void check_against(const Analysis& a, const Construction& c) {
  for (uint64_t id : c.reachable) CHECK(a.unreachable.count(id) == 0);
  for (uint64_t id : c.unreachable) CHECK(a.unreachable.count(id) == 1);
  for (uint64_t id : a.unreachable) CHECK((c.unreachable.count(id) + c.maybe.count(id)) == 1);
}

// Without a GC after set-up the leaked goroutines' closures may still be
// allocated (then fewer are proven), but a reachable goroutine never comes
// out unreachable, nor anything outside the construction's unreachable set.
inline void check_never_reachable_without_gc(const std::string& fixture_name) {
  Child c = Child::spawn({fixture(fixture_name), "-gc=false"});
  Construction con = read_construction(c);
  REQUIRE(c.wait_stdout_line("listening on", std::chrono::seconds(10)));
  Analysis a = analyse(c.pid());
  INFO(describe(a, con));
  REQUIRE_FALSE(a.verdicts.cut_short);
  for (uint64_t id : con.reachable) CHECK(a.unreachable.count(id) == 0);
  for (uint64_t id : a.unreachable) CHECK((con.unreachable.count(id) + con.maybe.count(id)) == 1);
}

}  // namespace mws::test::reach
