// The "unreachable" evidence (src/target/go_reachability.h) against the
// construction of tests/fixtures/leakreach: goroutines blocked on channels
// only they hold (alone, group, nil channel, select{}) must come out
// unreachable, exactly; the ones a global, os/signal or a timer still holds
// (held, signal, timer, pool) never. Built by Go 1.19 (the machine's go, also
// stripped) and by Go 1.27 (the toolchain matrix), where Go's own leak
// profile (/debug/pprof/goroutineleak) must be a subset of what we find.
// No BPF: the analysis only reads the target's memory.
#include <catch2/catch.hpp>

#include "reachability_checks.h"

using namespace mws;
using namespace mws::test;
using namespace mws::test::reach;
using namespace std::chrono;

namespace {

// Exactly the constructed unreachable goroutines, none of the reachable ones.
void check_exact(const std::string& fixture_name, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv{fixture(fixture_name)};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c = Child::spawn(argv);
  Construction con = read_construction(c);
  REQUIRE(c.wait_stdout_line("listening on", seconds(10)));
  Analysis a = analyse(c.pid());
  INFO(describe(a, con));
  REQUIRE_FALSE(a.verdicts.cut_short);
  check_against(a, con);
}

}  // namespace

TEST_CASE("reachability: exactly the goroutines blocked on channels only they hold (go1.19)",
          "[bpf][reachability]") {
  check_exact("leakreach");
}

TEST_CASE("reachability: a stripped binary (no DWARF, no .symtab) gives the same verdicts (go1.19)",
          "[bpf][reachability]") {
  check_exact("leakreach_stripped");
}

TEST_CASE("reachability: without a GC after set-up, never a reachable goroutine (go1.19)", "[bpf][reachability]") {
  Child c = Child::spawn({fixture("leakreach"), "-gc=false"});
  Construction con = read_construction(c);
  REQUIRE(c.wait_stdout_line("listening on", seconds(10)));
  Analysis a = analyse(c.pid());
  INFO(describe(a, con));
  REQUIRE_FALSE(a.verdicts.cut_short);
  for (uint64_t id : con.reachable) CHECK(a.unreachable.count(id) == 0);
  // Nothing outside the construction's unreachable set, ever (the closures
  // may still be allocated, so fewer is acceptable).
  for (uint64_t id : a.unreachable) CHECK((con.unreachable.count(id) + con.maybe.count(id)) == 1);
}

TEST_CASE("reachability: a budget too small cuts short with every verdict 0", "[bpf][reachability]") {
  Child c = Child::spawn({fixture("leakreach")});
  Construction con = read_construction(c);
  REQUIRE(c.wait_stdout_line("listening on", seconds(10)));
  target::ReachabilityLimits tiny;
  tiny.max_bytes = 64 << 10;
  Analysis a = analyse(c.pid(), tiny);
  CHECK(a.verdicts.cut_short);
  CHECK_FALSE(a.verdicts.cut_reason.empty());
  CHECK(a.unreachable.empty());
}

