// The "unreachable" evidence (src/target/go_reachability.h) against the
// construction of tests/fixtures/leakreach built by Go 1.19 (the machine's
// go), also stripped: goroutines blocked on channels only they hold (alone,
// group, nil channel, select{}) must come out unreachable, exactly; the ones
// a global, os/signal or a timer still holds (held, signal, timer, pool)
// never. Healthy real servers (Debian's caddy and prometheus) must have none.
// Go 1.27, with Go's own leak profile, is in test_reachability_matrix.cpp.
// No BPF: the analysis only reads the target's memory.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "reachability_checks.h"
#include "real_servers.h"

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
  check_never_reachable_without_gc("leakreach");
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


namespace {

void check_none_unreachable(Child& server, const std::string& what) {
  // Idle servers' goroutines wait in select/chan receive forever by design
  // (signal handlers, maintenance loops, run-group actors): not one may come
  // out unreachable, on repeated looks.
  for (int i = 0; i < 3; i++) {
    Analysis a = analyse(server.pid());
    INFO(what << ": " << a.verdicts.candidates << " candidates, " << a.verdicts.bytes_scanned << " bytes"
              << (a.verdicts.cut_short ? ", cut: " + a.verdicts.cut_reason : ""));
    CHECK_FALSE(a.verdicts.cut_short);
    CHECK(a.verdicts.candidates >= 5);
    CHECK(a.unreachable.empty());
    std::this_thread::sleep_for(milliseconds(300));
  }
}

}  // namespace

TEST_CASE("reachability: healthy real servers (Debian's caddy and prometheus, stripped) have no unreachable goroutine",
          "[bpf][reachability][caddy]") {
  RealServer caddy = start_caddy("reach-caddy", "\trespond \"ok\"\n");
  RealServer prometheus = start_prometheus("reach-prometheus");
  REQUIRE(http_get(caddy.port, "/"));
  std::this_thread::sleep_for(seconds(3));  // a few scrapes
  check_none_unreachable(caddy.child, "caddy (main parked in select{})");
  check_none_unreachable(prometheus.child, "prometheus");
}
