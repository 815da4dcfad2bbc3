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


namespace {

// A port nothing listens on right now (bound to 0, read back, closed).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

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
  const std::string dir = temp_path("reach-servers");
  REQUIRE(run({"mkdir", "-p", dir + "/tsdb"}).status == 0);
  const int admin = free_port(), site = free_port(), prom = free_port();
  {
    std::ofstream cfg(dir + "/Caddyfile");
    cfg << "{\n\tadmin 127.0.0.1:" << admin << "\n\tauto_https off\n}\nhttp://127.0.0.1:" << site
        << " {\n\trespond \"ok\"\n}\n";
    std::ofstream p(dir + "/p.yml");
    p << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << prom << "']\n";
  }
  Child caddy = Child::spawn({"env", "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "/usr/bin/caddy", "run",
                              "--config", dir + "/Caddyfile", "--adapter", "caddyfile"});
  Child prometheus = Child::spawn({"/usr/bin/prometheus", "--config.file=" + dir + "/p.yml",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(prom),
                                   "--storage.tsdb.path=" + dir + "/tsdb"});
  REQUIRE(wait_port_open(site, seconds(20)));
  REQUIRE(wait_port_open(prom, seconds(30)));
  REQUIRE(http_get(site, "/"));
  std::this_thread::sleep_for(seconds(3));  // a few scrapes
  check_none_unreachable(caddy, "caddy (main parked in select{})");
  check_none_unreachable(prometheus, "prometheus");
}
