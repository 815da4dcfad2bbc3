// Per-middleware attribution against construction and the runtime's own
// exact profile. Each fixture (net/http closures + a ServeHTTP type, gin,
// chi, echo) runs with MemProfileRate = 1 and states by construction which
// middleware allocates how many objects per request and the chain order.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

// The runtime's own counts, from the fixture's /debug/allocs.
struct Truth {
  // By innermost main.* frame: objects and the part of them made inside
  // another allocation (GC assist).
  std::map<std::string, std::pair<uint64_t, uint64_t>> functions;
  // By who mwscope's rule charges (framework fixtures only: ginserver,
  // chiserver, echoserver, glueserver): objects and the part of them made
  // inside another allocation (GC assist), not part of the construction.
  std::map<std::string, std::pair<uint64_t, uint64_t>> owners;
  uint64_t work_requests = 0;
  bool has_owners = false;
};

Truth runtime_truth(int port) {
  const json doc = json::parse(*http_get(port, "/debug/allocs"));
  Truth t;
  for (auto& [fn, c] : doc.at("functions").items())
    t.functions[fn] = {c.at("objects").get<uint64_t>(), c.at("nested_objects").get<uint64_t>()};
  t.has_owners = doc.contains("owners");
  if (t.has_owners)
    for (auto& [name, c] : doc.at("owners").items())
      t.owners[name] = {c.at("objects").get<uint64_t>(), c.at("nested_objects").get<uint64_t>()};
  t.work_requests = doc.at("work_requests").get<uint64_t>();
  return t;
}

const json* row(const json& profile, const std::string& name) {
  for (const auto& m : profile.at("middleware"))
    if (m.at("name") == name) return &m;
  return nullptr;
}

double row_objects(const json& profile, const std::string& name) {
  const json* m = row(profile, name);
  return m ? m->at("objects").get<double>() : 0.0;
}

// Every framework row equals the runtime's count of what that framework's
// own code allocated over the same requests: the names the fixture's truth
// charges that are not its user middleware, and every row of mwscope's that
// is neither user code (main.*) nor (server), so a row the truth does not
// know fails too.
void check_framework_rows(const json& profile, const Truth& before, const Truth& after,
                          const std::set<std::string>& user_middleware) {
  std::set<std::string> frameworks;
  for (const auto& [name, counts] : after.owners) frameworks.insert(name);
  for (const auto& m : profile.at("middleware")) frameworks.insert(m.at("name").get<std::string>());
  for (const std::string& name : frameworks) {
    if (user_middleware.count(name) || name.rfind("main.", 0) == 0 || name == "(server)") continue;
    auto a = after.owners.find(name);
    auto b = before.owners.find(name);
    auto count = [](auto it, auto end, bool nested) {
      return it == end ? 0.0 : double(nested ? it->second.second : it->second.first);
    };
    const double truth = count(a, after.owners.end(), false) - count(b, before.owners.end(), false);
    const double nested = count(a, after.owners.end(), true) - count(b, before.owners.end(), true);
    const double ours = row_objects(profile, name);
    INFO("framework " << name << ": runtime " << truth << " (" << nested << " nested), mwscope " << ours);
    CHECK(ours == truth);  // every allocation of its own code, none of anyone else's
  }
}

// One exact recording of n /work requests, with the runtime's own counts
// read at its first and last request.
struct WorkRecording {
  json construction, profile;
  Truth before, after;
};

WorkRecording record_work(const std::string& fixture_name, int n) {
  WorkRecording rec;
  Server server = start_server(fixture_name);
  rec.construction = json::parse(*http_get(server.port, "/debug/construction"));
  const std::string json_path = temp_path(fixture_name + "-mw.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--mode", "exact", "--no-goroutines"});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));

  rec.before = runtime_truth(server.port);  // request 1 of the window
  auto r = run({fixture("loadgen"), "-url", "http://127.0.0.1:" + std::to_string(server.port) + "/work", "-n",
                std::to_string(n), "-c", "4"},
               seconds(120));
  REQUIRE(r.status == 0);
  rec.after = runtime_truth(server.port);  // request n + 2
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  rec.profile = read_profile_json(json_path);
  // The /work requests, by the fixture's own count.
  REQUIRE(rec.after.work_requests - rec.before.work_requests == uint64_t(n));
  return rec;
}

}  // namespace

void mws::test::check_middleware_per_request(const std::string& fixture_name) {
  INFO("fixture " << fixture_name);
  const int n = 1000;
  const WorkRecording rec = record_work(fixture_name, n);
  const json& construction = rec.construction;
  const json& profile = rec.profile;
  const Truth& before = rec.before;
  const Truth& after = rec.after;
  INFO(profile.at("middleware").dump(1).substr(0, 3000));

  // Requests: the load plus the two truth requests, counted by construction.
  REQUIRE(profile.at("requests").at("counted") == true);
  CHECK(profile.at("requests").at("requests") == n + 2);
  const double requests = n + 2;

  // Several functions can make up one middleware (echo and mux rebuild
  // their chain per request, so the factory main.Logger allocates as well
  // as its closure main.Logger.func1): sum them per middleware name.
  struct Expected {
    double per_request = 0;        // construction, the callees it calls included
    double truth = 0, nested = 0;  // what the runtime charged to it
  };
  std::map<std::string, Expected> expected;
  for (auto& [fn, c] : construction.at("functions").items()) {
    if (c.contains("routes") && std::find(c.at("routes").begin(), c.at("routes").end(), "/work") == c.at("routes").end())
      continue;  // not on the route this test drives
    Expected& e = expected[c.at("middleware").get<std::string>()];
    // allocserver's table lists its own allocations only.
    e.per_request += c.value("total_objects_per_request", c.at("objects_per_request").get<double>());
    // Without the owner view (allocserver: net/http only, no framework) the
    // owner of an allocation is its innermost main.* frame.
    auto count = [&fn](const Truth& t, bool nested) {
      auto it = t.functions.find(fn);
      return it == t.functions.end() ? 0.0 : double(nested ? it->second.second : it->second.first);
    };
    if (!after.has_owners) {
      e.truth += count(after, false) - count(before, false);
      e.nested += count(after, true) - count(before, true);
    }
  }
  REQUIRE(expected.size() >= 4);
  std::set<std::string> user_middleware;
  for (auto& [name, e] : expected) {
    user_middleware.insert(name);
    if (!after.has_owners) continue;
    auto b = before.owners.find(name);
    const auto& a = after.owners.at(name);
    e.truth = double(a.first) - double(b == before.owners.end() ? 0 : b->second.first);
    e.nested = double(a.second) - double(b == before.owners.end() ? 0 : b->second.second);
  }

  bool saw_value_ctx = false;
  for (const auto& [name, e] : expected) {
    const json* m = row(profile, name);
    REQUIRE(m);
    const double ours = m->at("objects").get<double>();
    INFO(name << ": construction " << e.per_request << "/request, runtime " << e.truth << " (" << e.nested
              << " nested), mwscope " << ours << " over " << n << " /work requests");
    // Every allocation the runtime charged to it, none lost, none of
    // another middleware's.
    CHECK(ours == e.truth);
    CHECK(m->at("objects_per_request").get<double>() == Approx(ours / requests));
    // The construction, on the runtime's word (a check of the fixture): its
    // own code and the libraries it calls, plus what the runtime made inside
    // those allocations. allocserver's table lists main.RequestID's own
    // objects only, not the stdlib's (context.WithValue, r.WithContext),
    // whose count is each Go version's own.
    if (after.has_owners || name != "main.RequestID")
      CHECK(e.truth - e.nested == n * e.per_request);
    else
      CHECK(e.truth - e.nested >= n * e.per_request);
    for (const auto& t : m->at("top_types")) saw_value_ctx |= t.at("name") == "context.valueCtx";
  }
  if (construction.dump().find("context.WithValue") != std::string::npos)
    CHECK(saw_value_ctx);  // the WithValue middleware is charged with the stdlib's allocation
  if (after.has_owners) check_framework_rows(profile, before, after, user_middleware);

  bool chain_seen = false;
  for (const auto& c : profile.at("chains")) chain_seen |= c.at("names") == construction.at("chain");
  CHECK(chain_seen);
}

TEST_CASE("objects per request per middleware equal the construction and the runtime's profile",
          "[bpf][middleware]") {
  check_middleware_per_request(GENERATE("allocserver", "ginserver", "chiserver", "echoserver", "glueserver"));
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
  // The load runs from before the attach until after the recording has
  // ended, however long the attach takes on a busy machine: it is stopped
  // (SIGINT) only once mwscope has exited. Its -duration is only a bound.
  Child load = Child::spawn({fixture("loadgen"), "-url", base + "/work", "-n", "0", "-c", std::to_string(connections),
                             "-duration", "240s"});
  // Requests are being served before mwscope starts: the fixture's own count.
  bool serving = false;
  for (auto deadline = steady_clock::now() + seconds(30); !serving && steady_clock::now() < deadline;) {
    auto body = http_get(server.port, "/debug/allocs");
    serving = body && json::parse(*body).at("work_requests").get<uint64_t>() > 0;
    if (!serving) std::this_thread::sleep_for(milliseconds(50));
  }
  REQUIRE(serving);
  const std::string json_path = temp_path("window.json");
  auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1", "--mode", "exact",
                "--no-goroutines", "--json", json_path},
               seconds(60));
  REQUIRE(load.running());  // the load covered the whole recording
  load.signal(SIGINT);
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

TEST_CASE("through negroni, gorilla/mux and alice each framework's own work is its own row", "[bpf][middleware][glue]") {
  // glueserver: main.Timing (negroni) -> main.Tracing (mux r.Use) ->
  // main.Auth (alice) -> main.work; check_middleware_per_request holds
  // their rows to the construction. Here: where the glue between them goes.
  const int n = 200;
  const WorkRecording rec = record_work("glueserver", n);
  const json& profile = rec.profile;
  INFO(profile.at("middleware").dump(1).substr(0, 3000));
  auto runtime_count = [&rec](const std::string& owner) {
    auto a = rec.after.owners.find(owner);
    auto b = rec.before.owners.find(owner);
    return (a == rec.after.owners.end() ? 0.0 : double(a->second.first)) -
           (b == rec.before.owners.end() ? 0.0 : double(b->second.first));
  };

  // negroni makes a closure for every layer's next and wraps the response
  // writer; mux matches the route and puts its variables and the route in
  // the request's context: per request, by the runtime's own count.
  for (const std::string framework : {"github.com/urfave/negroni", "github.com/gorilla/mux"}) {
    const double truth = runtime_count(framework);
    INFO(framework << ": runtime " << truth << " objects over " << n << " requests");
    CHECK(truth >= n);
    REQUIRE(row(profile, framework));
    CHECK(row_objects(profile, framework) == truth);
  }
  // alice applies its constructors once, at start-up: it runs no code per
  // request, so it has nothing to carry.
  CHECK(runtime_count("github.com/justinas/alice") == 0);
  CHECK(row_objects(profile, "github.com/justinas/alice") == 0);
  // No row is named after an adapter.
  CHECK_FALSE(row(profile, "github.com/urfave/negroni.Wrap"));

  // Route matching is the router's: every allocation under
  // mux.(*Route).Match with no user middleware nearer is in mux's row.
  uint64_t match_objects = 0;
  for (const auto& s : profile.at("stacks")) {
    bool under_match = false;
    for (const auto& f : s.at("frames")) {
      const std::string fn = f.at("function");
      if (fn.rfind("main.", 0) == 0) break;  // a user function nearer the allocation
      under_match |= fn == "github.com/gorilla/mux.(*Route).Match";
    }
    if (!under_match) continue;
    CHECK(s.at("middleware") == "github.com/gorilla/mux");
    match_objects += s.at("objects").get<uint64_t>();
  }
  CHECK(match_objects >= uint64_t(n));  // its vars map, at least, per request
}
