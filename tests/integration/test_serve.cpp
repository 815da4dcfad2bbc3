// mwscope serve under the engines SREs run: Debian's prometheus scrapes
// it and PromQL returns each fixture's truth (objects at a middleware as
// the target's own runtime counts them, in exact mode; leaked goroutines at
// the middleware that started them, by construction), promtool finds its
// exposition clean, and Debian's go tool pprof pulls its heap profile with
// middleware labels. Then the life cycle: a target that exits loses its
// series, SIGTERM and kill -9 leave nothing attached.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <fstream>
#include <map>
#include <thread>

#include "harness.h"
#include "real_servers.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += char(c);
    else
      out += "%" + std::string(1, "0123456789ABCDEF"[c >> 4]) + "0123456789ABCDEF"[c & 15];
  }
  return out;
}

// One PromQL instant query; the value of its only series, or nullopt when
// it returns none.
std::optional<double> promql(int port, const std::string& query) {
  auto body = http_get(port, "/api/v1/query?query=" + url_encode(query));
  if (!body) return std::nullopt;
  const json doc = json::parse(*body);
  if (doc.at("status") != "success") return std::nullopt;
  const auto& result = doc.at("data").at("result");
  if (result.size() != 1) return std::nullopt;
  return std::stod(result[0].at("value")[1].get<std::string>());
}

// Polls `query` until it returns `want` (the truth does not change any
// more when this is called, so a value that overshoots never matches).
std::optional<double> wait_for_value(int port, const std::string& query, double want, seconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::optional<double> last;
  while (steady_clock::now() < deadline) {
    last = promql(port, query);
    if (last && *last == want) return last;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return last;
}

struct Serve {
  Child child;
  int port = 0;
};

Serve start_serve(const std::vector<std::string>& args) {
  const int port = free_loopback_port();
  std::vector<std::string> argv{mwscope_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  Serve s{Child::spawn(argv), port};
  auto serving = s.child.wait_stderr_line("serving http://", seconds(60));
  INFO(s.child.stderr_text());
  REQUIRE(serving);
  return s;
}

// The programs mwscope loaded are gone (their ids are above `before`).
bool none_loaded_after(uint32_t before) {
  for (const auto& p : loaded_bpf_programs())
    if (p.id > before) return false;
  return true;
}

uint32_t last_program_id() {
  uint32_t id = 0;
  for (const auto& p : loaded_bpf_programs()) id = std::max(id, p.id);
  return id;
}

}  // namespace

TEST_CASE("serve under Debian's prometheus: PromQL returns objects per middleware as the runtime counts them and "
          "leaked goroutines at their middleware, promtool finds /metrics clean, go tool pprof pulls labelled heaps",
          "[bpf][serve]") {
  Server alloc = start_server("allocserver");  // MemProfileRate 1: the runtime's counts are exact
  Server tasks = start_server("taskserver", {"-memprofilerate", "1"});
  constexpr int kLeaks = 12;
  for (int i = 0; i < kLeaks; i++) REQUIRE(http_get(tasks.port, "/leak"));  // each leaves one goroutine blocked
  const std::string apid = std::to_string(alloc.child.pid()), tpid = std::to_string(tasks.child.pid());
  Serve serve = start_serve({"-p", apid, "-p", tpid, "--mode", "exact", "--refresh", "1", "--leak-age", "1"});
  INFO(serve.child.stderr_text());
  RealServer prom = start_prometheus("serve-prometheus", {"127.0.0.1:" + std::to_string(serve.port)});

  // The window: the runtime's own counts before and after a load no other
  // request adds to (the fixture's /debug/* work is charged to main.debug*).
  const auto construction = json::parse(*http_get(alloc.port, "/debug/construction")).at("functions");
  const auto before = runtime_allocs(alloc.port, 1);
  constexpr int kRequests = 300;
  send_load(alloc.port, "/work", kRequests);
  const auto after = runtime_allocs(alloc.port, 1);
  std::map<std::string, double> truth;  // per middleware
  for (auto& [fn, c] : construction.items()) {
    if (c.contains("routes") && std::find(c.at("routes").begin(), c.at("routes").end(), "/work") == c.at("routes").end())
      continue;  // not on the route this test drives
    const auto a = after.find(fn);
    const auto b = before.find(fn);
    truth[c.at("middleware").get<std::string>()] +=
        double((a == after.end() ? 0 : a->second.objects) - (b == before.end() ? 0 : b->second.objects));
  }
  REQUIRE(truth.size() >= 4);
  for (const auto& [middleware, objects] : truth) {
    INFO(middleware);
    CHECK(objects >= kRequests);  // the fixture allocates per request at each, by construction
    const std::string q = "mwscope_alloc_objects_total{job=\"mwscope\",pid=\"" + apid + "\",middleware=\"" +
                          middleware + "\"}";
    CHECK(wait_for_value(prom.port, q, objects, seconds(60)) == objects);
  }
  // Every goroutine /leak started waits forever at main.Watchdog's go statement.
  const std::string leaked = "sum(mwscope_goroutines_leaked{job=\"mwscope\",pid=\"" + tpid +
                             "\",middleware=\"main.Watchdog\"})";
  CHECK(wait_for_value(prom.port, leaked, kLeaks, seconds(60)) == kLeaks);
  CHECK(promql(prom.port, "mwscope_target_up{job=\"mwscope\",pid=\"" + tpid + "\"}") == 1.0);
  CHECK(promql(prom.port, "mwscope_events_dropped_total{job=\"mwscope\",pid=\"" + apid + "\"}") == 0.0);

  // The exposition as promtool reads it.
  auto metrics = http_get(serve.port, "/metrics");
  REQUIRE(metrics);
  const std::string metrics_path = temp_path("serve.metrics");
  std::ofstream(metrics_path) << *metrics;
  auto check = run({"sh", "-c", "promtool check metrics < " + metrics_path});
  INFO(check.out << check.err);
  CHECK(check.status == 0);

  // go tool pprof pulls the heap profile over HTTP, as Parca and Alloy do:
  // the objects at each middleware label are the runtime's (no /work since).
  const PprofRaw heap =
      pprof_raw("http://127.0.0.1:" + std::to_string(serve.port) + "/debug/pprof/heap?pid=" + apid);
  for (const auto& [middleware, objects] : truth) {
    INFO(middleware);
    CHECK(double(heap.sum("alloc_objects/count", {{"middleware", middleware}})) == objects);
  }
  // Over the next second nothing was served: the change is zero at every middleware.
  const PprofRaw delta =
      pprof_raw("http://127.0.0.1:" + std::to_string(serve.port) + "/debug/pprof/heap?seconds=1&pid=" + apid);
  for (const auto& [middleware, objects] : truth) CHECK(delta.sum("alloc_objects/count", {{"middleware", middleware}}) == 0);
  const PprofRaw goroutines =
      pprof_raw("http://127.0.0.1:" + std::to_string(serve.port) + "/debug/pprof/goroutine?pid=" + tpid);
  CHECK(goroutines.sum("goroutine/count", {{"middleware", "main.Watchdog"}, {"verdict", "leaked"}}) == kLeaks);
}

TEST_CASE("serve: a target that exits loses its series within 5 s, SIGTERM detaches everything, kill -9 leaves "
          "nothing attached", "[bpf][serve]") {
  const uint32_t since = last_program_id();
  Server a = start_server("allocserver");
  Server b = start_server("allocserver");
  const std::string bpid = std::to_string(b.child.pid());
  {
    Serve serve = start_serve({"-p", std::to_string(a.child.pid()), "-p", bpid, "--refresh", "1"});
    CHECK(http_get(serve.port, "/metrics")->find("pid=\"" + bpid + "\"") != std::string::npos);
    b.child.signal(SIGKILL);
    b.child.wait(seconds(10));
    const auto killed = steady_clock::now();
    bool gone = false;
    while (!gone && steady_clock::now() - killed < seconds(5)) {
      gone = http_get(serve.port, "/metrics")->find("pid=\"" + bpid + "\"") == std::string::npos;
      if (!gone) std::this_thread::sleep_for(milliseconds(100));
    }
    CHECK(gone);
    serve.child.signal(SIGTERM);
    CHECK(serve.child.wait(seconds(30)) == 0);
    CHECK(none_loaded_after(since));
  }
  {
    Serve serve = start_serve({"-p", std::to_string(a.child.pid()), "--refresh", "1"});
    CHECK(!none_loaded_after(since));  // attached
    serve.child.signal(SIGKILL);
    serve.child.wait(seconds(10));
    // The kernel releases a killed process's links as its files close.
    const auto deadline = steady_clock::now() + seconds(5);
    while (!none_loaded_after(since) && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(100));
    CHECK(none_loaded_after(since));
  }
  CHECK(a.child.running());
}

TEST_CASE("serve refuses, in one line and with nothing attached: no target, a PID that does not exist, a port in use",
          "[bpf][serve][errors]") {
  const uint32_t since = last_program_id();
  auto none = run({mwscope_binary(), "serve"});
  CHECK(none.status != 0);
  CHECK(none.err.find("-p PID") != std::string::npos);
  auto missing = run({mwscope_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(free_loopback_port()),
                      "-p", "999999999"});
  CHECK(missing.status != 0);
  CHECK(missing.err.find("no process with PID 999999999") != std::string::npos);
  Server a = start_server("allocserver");
  auto busy = run({mwscope_binary(), "serve", "--listen", "127.0.0.1:" + std::to_string(a.port), "-p",
                   std::to_string(a.child.pid())});
  INFO(busy.err);
  CHECK(busy.status != 0);
  CHECK(busy.err.find("cannot listen") != std::string::npos);
  CHECK(std::count(busy.err.begin(), busy.err.end(), '\n') == 1);
  CHECK(none_loaded_after(since));
}
