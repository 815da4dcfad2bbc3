// Per-middleware attribution against construction and the runtime's own
// exact profile. Each fixture (net/http closures + a ServeHTTP type, gin,
// chi, echo) runs with MemProfileRate = 1 and states by construction which
// middleware allocates how many objects per request and the chain order.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::map<std::string, uint64_t> runtime_objects(int port) {
  const json doc = json::parse(*http_get(port, "/debug/allocs"));
  std::map<std::string, uint64_t> out;
  for (auto& [fn, c] : doc.at("functions").items()) out[fn] = c.at("objects").get<uint64_t>();
  return out;
}

const json* row(const json& profile, const std::string& name) {
  for (const auto& m : profile.at("middleware"))
    if (m.at("name") == name) return &m;
  return nullptr;
}

}  // namespace

void mws::test::check_middleware_per_request(const std::string& fixture_name) {
  INFO("fixture " << fixture_name);
  Server server = start_server(fixture_name);
  const json construction = json::parse(*http_get(server.port, "/debug/construction"));
  const std::string json_path = temp_path(fixture_name + "-mw.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--mode", "exact", "--no-goroutines"});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));

  auto before = runtime_objects(server.port);  // request 1 of the window
  const int n = 1000;
  auto r = run({fixture("loadgen"), "-url", "http://127.0.0.1:" + std::to_string(server.port) + "/work", "-n",
                std::to_string(n), "-c", "4"},
               seconds(120));
  REQUIRE(r.status == 0);
  auto after = runtime_objects(server.port);  // request n + 2
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  json profile = read_profile_json(json_path);
  INFO(profile.at("middleware").dump(1).substr(0, 3000));

  // Requests: the load plus the two truth requests, counted by construction.
  REQUIRE(profile.at("requests").at("counted") == true);
  CHECK(profile.at("requests").at("requests") == n + 2);
  const double requests = n + 2;

  // Several functions can make up one middleware (echo rebuilds its chain
  // per request, so the factory main.Logger allocates as well as its
  // closure main.Logger.func1): sum them per middleware name.
  struct Expected {
    double per_request = 0, truth = 0;
  };
  std::map<std::string, Expected> expected;
  for (auto& [fn, c] : construction.at("functions").items()) {
    if (c.contains("routes") && std::find(c.at("routes").begin(), c.at("routes").end(), "/work") == c.at("routes").end())
      continue;  // not on the route this test drives
    Expected& e = expected[c.at("middleware").get<std::string>()];
    e.per_request += c.at("objects_per_request").get<double>();
    e.truth += double(after[fn] - before[fn]);  // everything the runtime charged to fn
  }
  REQUIRE(expected.size() >= 4);

  bool saw_value_ctx = false;
  for (const auto& [name, e] : expected) {
    INFO(name << ": construction " << e.per_request << "/request, runtime " << e.truth);
    const json* m = row(profile, name);
    REQUIRE(m);
    const double ours = m->at("objects").get<double>();
    CHECK(std::fabs(ours - e.truth) <= 0.01 * e.truth);
    CHECK(m->at("objects_per_request").get<double>() == Approx(ours / requests));
    CHECK(ours / n >= 0.99 * e.per_request);  // at least what the middleware allocates itself
    for (const auto& t : m->at("top_types")) saw_value_ctx |= t.at("name") == "context.valueCtx";
  }
  CHECK(saw_value_ctx);  // the WithValue middleware is charged with the stdlib's allocation

  bool chain_seen = false;
  for (const auto& c : profile.at("chains")) chain_seen |= c.at("names") == construction.at("chain");
  CHECK(chain_seen);
}

TEST_CASE("objects per request per middleware equal the construction and the runtime's profile",
          "[bpf][middleware]") {
  check_middleware_per_request(GENERATE("allocserver", "ginserver", "chiserver", "echoserver"));
}

TEST_CASE("a --middleware pattern that does not compile is refused before attaching", "[bpf][middleware][errors]") {
  Server server = start_server("allocserver");
  auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1", "--middleware", "main.(Log"});
  INFO(r.err);
  CHECK(r.status != 0);
  CHECK(r.err.find("not a valid regular expression") != std::string::npos);
  CHECK(r.err.find("attached") == std::string::npos);
}

TEST_CASE("a --middleware pattern that matches nothing is said so", "[bpf][middleware]") {
  Server server = start_server("allocserver");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "2", "--mode", "exact", "--middleware",
                           "^matches\\.nothing$", "--middleware", "Logging"});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  REQUIRE(http_get(server.port, "/work"));
  CHECK(mw.wait(seconds(30)) == 0);
  CHECK(mw.stderr_text().find("'^matches\\.nothing$' matched no frame") != std::string::npos);
  CHECK(mw.stderr_text().find("'Logging' matched no frame") == std::string::npos);
}

TEST_CASE("objects per request of a 1 s recording under saturating load equal the construction",
          "[bpf][middleware][window]") {
  // Every probe counts over one window (opened once all are attached, closed
  // before any is detached): requests and allocations come from the same
  // span. Only the requests in flight at its two edges can be counted
  // without their allocations or the other way round: at most one per
  // connection at each edge.
  Server server = start_server("allocserver");
  const int connections = 8;
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port);
  Child load = Child::spawn({fixture("loadgen"), "-url", base + "/work", "-n", "0", "-c", std::to_string(connections),
                             "-duration", "8s"});
  REQUIRE(wait_port_open(server.port, seconds(5)));
  std::this_thread::sleep_for(milliseconds(500));  // saturated by now
  const std::string json_path = temp_path("window.json");
  auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1", "--mode", "exact",
                "--no-goroutines", "--json", json_path},
               seconds(60));
  INFO(r.err);
  REQUIRE(r.status == 0);
  json profile = read_profile_json(json_path);
  CHECK(load.wait(seconds(60)) == 0);

  const uint64_t requests = profile.at("requests").at("requests");
  INFO(requests << " requests counted in " << profile.at("meta").at("duration_s") << " s");
  REQUIRE(requests > 100);
  CHECK(profile.at("meta").at("duration_s").get<double>() >= 1.0);
  CHECK(profile.at("meta").at("dropped_events") == 0);

  // What each layer allocates itself, by construction (function, type,
  // objects per request); GC-assist objects (runtime.sudog) that land in
  // these frames now and then are not part of it.
  struct Own {
    std::string function, type;
    uint64_t per_request;
  };
  const json construction = json::parse(*http_get(server.port, "/debug/construction")).at("functions");
  std::string stamp_closure;
  for (auto& [fn, c] : construction.items())
    if (c.at("middleware") == "main.stampMW") stamp_closure = fn;
  for (const Own& own : {Own{"main.Logging.func1", "[64]uint8", 3}, Own{stamp_closure, "[48]uint8", 1},
                         Own{stamp_closure, "main.stampNode", 1}, Own{"main.(*authMiddleware).ServeHTTP", "[96]uint8", 5},
                         Own{"main.workHandler", "[128]uint8", 7}}) {
    uint64_t objects = 0;
    for (const auto& s : profile.at("stacks")) {
      if (s.at("type") != own.type) continue;
      for (const auto& f : s.at("frames"))
        if (f.at("function").get<std::string>().rfind("main.", 0) == 0) {
          if (f.at("function") == own.function) objects += s.at("objects").get<uint64_t>();
          break;
        }
    }
    const double expected = double(own.per_request) * double(requests);
    INFO(own.function << " " << own.type << ": " << objects << " objects, construction " << expected);
    CHECK(std::fabs(double(objects) - expected) <= double(2 * connections * own.per_request));
  }
}
