// The "unreachable" evidence on leakreach built by Go 1.27 (the toolchain
// matrix), where Go's own detector is on by default: our verdicts must equal
// the construction, and include every goroutine Go's goroutineleak profile
// lists (before and after Go's detector has marked them _Gleaked).
#include <catch2/catch.hpp>
#include <regex>

#include "reachability_checks.h"

using namespace mws;
using namespace mws::test;
using namespace mws::test::reach;
using namespace std::chrono;


TEST_CASE("reachability: go1.27, exactly the construction, and all of Go's own goroutineleak profile",
          "[bpf][reachability][matrix]") {
  Child c = Child::spawn({fixture("go1.27/leakreach")});
  Construction con = read_construction(c);
  auto listening = c.wait_stdout_line("listening on", seconds(10));
  REQUIRE(listening);
  const int port = std::stoi(listening->substr(listening->rfind(':') + 1));

  Analysis before = analyse(c.pid());
  INFO(describe(before, con));
  REQUIRE_FALSE(before.verdicts.cut_short);
  check_against(before, con);

  // Go's detector (a GC cycle with leak detection), then its verdicts: the
  // goroutines it marks _Gleaked print "(leaked)" in a debug=2 dump.
  auto dump = http_get(port, "/debug/pprof/goroutineleak?debug=2");
  REQUIRE(dump);
  std::set<uint64_t> go_leaked;
  std::regex header(R"(goroutine (\d+) [^\n]*\[[^\]]*\(leaked\)[^\]]*\])");
  for (auto it = std::sregex_iterator(dump->begin(), dump->end(), header); it != std::sregex_iterator(); ++it)
    go_leaked.insert(std::stoull((*it)[1]));
  INFO("Go's goroutineleak profile lists " << go_leaked.size());
  CHECK_FALSE(go_leaked.empty());
  // What Go finds, we found on our own before it ran (bar the "maybe" ones,
  // which a conservative scan may miss)...
  for (uint64_t id : go_leaked)
    if (!con.maybe.count(id)) CHECK(before.unreachable.count(id) == 1);
  // ...and Go finds nothing the construction calls reachable.
  for (uint64_t id : go_leaked) CHECK(con.reachable.count(id) == 0);

  // After Go's detector ran (status _Gleaked): every goroutine Go reports is
  // in our unreachable set, and still nothing reachable is.
  Analysis after = analyse(c.pid());
  INFO(describe(after, con));
  check_against(after, con);
  for (uint64_t id : go_leaked) CHECK(after.unreachable.count(id) == 1);
}


TEST_CASE("reachability: go1.27 without a GC after set-up, never a reachable goroutine", "[bpf][reachability][matrix]") {
  check_never_reachable_without_gc("go1.27/leakreach");
}
