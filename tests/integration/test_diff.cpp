// mwscope diff of two real recordings: two servers that differ by
// construction in one middleware (allocserver -logging-objects), each
// recording checked against its own server's construction table, and the
// release gate (--fail-over) decided by that difference.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;
using json = nlohmann::json;

namespace {

// An exact-mode recording of `requests` /work requests; the server's own
// objects per request of main.Logging.
struct Recorded {
  std::string json_path;
  double logging_per_request = 0;
};

Recorded record_allocserver(int logging_objects, int requests) {
  Server server = start_server("allocserver", {"-logging-objects", std::to_string(logging_objects)});
  const json construction = json::parse(*http_get(server.port, "/debug/construction"));
  Recorded r;
  r.logging_per_request = construction.at("functions").at("main.Logging.func1").at("objects_per_request");
  r.json_path = temp_path("diff-" + std::to_string(logging_objects) + ".json");
  Child mw = Child::spawn(
      {mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", "exact", "--json", r.json_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  send_load(server.port, "/work", requests);
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  return r;
}

// The objects per request before and after of a middleware's row in the text.
std::pair<double, double> row_rates(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string first;
    double before = -1, after = -1;
    if (fields >> first && first == name && fields >> before >> after) return {before, after};
  }
  FAIL("no row for " << name);
  return {};
}

}  // namespace

TEST_CASE("mwscope diff: a middleware that allocates twice as much per request, and the release gate on it",
          "[bpf][diff]") {
  constexpr int kRequests = 400;
  const Recorded before = record_allocserver(3, kRequests), after = record_allocserver(6, kRequests);
  REQUIRE(after.logging_per_request == 2 * before.logging_per_request);  // the construction: +100%

  auto r = run({mwscope_binary(), "diff", before.json_path, after.json_path, "--fail-over", "50"});
  INFO(r.out << r.err);
  CHECK(r.status == 3);  // +100% > 50%
  CHECK(r.err.find("grew by more than 50% in main.Logging (+") != std::string::npos);
  CHECK(r.out.find("per request") != std::string::npos);
  const auto [b, a] = row_rates(r.out, "main.Logging");
  // Each recording's own rate is its server's construction: every request
  // of the load is inside the recording, and Logging allocates nothing else.
  CHECK(b == Approx(before.logging_per_request).margin(0.01));
  CHECK(a == Approx(after.logging_per_request).margin(0.01));
  // The rest of the chain is built alike in both: no other middleware is named.
  const std::string named = r.err.substr(r.err.find(" in "));
  CHECK(named.find("main.authMiddleware") == std::string::npos);
  CHECK(named.find("main.workHandler") == std::string::npos);

  // Above the growth: the gate passes.
  auto pass = run({mwscope_binary(), "diff", before.json_path, after.json_path, "--fail-over", "150"});
  INFO(pass.err);
  CHECK(pass.status == 0);
  // And a recording against itself changes nothing, at any threshold.
  CHECK(run({mwscope_binary(), "diff", before.json_path, before.json_path, "--fail-over", "0"}).status == 0);
}
