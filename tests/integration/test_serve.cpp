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
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "harness.h"
#include "memory_cgroup.h"
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

// The programs of ours (bpf/*.bpf.c name them on_*) loaded after `before`
// are gone. The kernel frees a program a moment after its last link goes
// (RCU): a few seconds are allowed for that.
bool ours_loaded_after(uint32_t before) {
  for (const auto& p : loaded_bpf_programs())
    if (p.id > before && p.name.rfind("on_", 0) == 0) return true;
  return false;
}
bool none_loaded_after(uint32_t before) {
  const auto deadline = steady_clock::now() + seconds(10);
  while (ours_loaded_after(before) && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(100));
  return !ours_loaded_after(before);
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
  // Requests served since attach, by the fixture's own count: /debug/construction,
  // the two /debug/allocs readings and the load.
  const double served = kRequests + 3;
  CHECK(wait_for_value(prom.port, "mwscope_requests_total{job=\"mwscope\",pid=\"" + apid + "\"}", served, seconds(60)) ==
        served);
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
    CHECK(ours_loaded_after(since));  // attached
    serve.child.signal(SIGKILL);
    serve.child.wait(seconds(10));
    // The kernel releases a killed process's links as its files close.
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

TEST_CASE("serve --discover: a Go server is attached within 2 s of listening, dropped within 5 s of exiting, a "
          "listener that is not Go is left alone", "[bpf][serve][discover]") {
  const int python_port = free_loopback_port();
  Child python = Child::spawn({"python3", "-m", "http.server", std::to_string(python_port), "--bind", "127.0.0.1"});
  REQUIRE(wait_port_open(python_port, seconds(20)));
  // Only this test's processes: the host may run other Go servers.
  Serve serve = start_serve({"--discover", "--discover-exe", "fixtures/allocserver$|python3", "--refresh", "1"});
  auto held = [&](pid_t pid) {
    auto m = http_get(serve.port, "/metrics");
    return m && m->find("mwscope_target_up{pid=\"" + std::to_string(pid) + "\"") != std::string::npos;
  };
  for (int round = 0; round < 2; round++) {  // the second: a restarted server, a new process
    Server a = start_server("allocserver");  // returns once it listens
    const auto listening = steady_clock::now();
    while (!held(a.child.pid()) && steady_clock::now() - listening < seconds(10))
      std::this_thread::sleep_for(milliseconds(50));
    const double took = duration<double>(steady_clock::now() - listening).count();
    INFO(serve.child.stderr_text());
    CHECK(took <= 2.0);
    a.child.signal(SIGTERM);
    a.child.wait(seconds(10));
    const auto exited = steady_clock::now();
    while (held(a.child.pid()) && steady_clock::now() - exited < seconds(10))
      std::this_thread::sleep_for(milliseconds(50));
    CHECK(duration<double>(steady_clock::now() - exited).count() <= 5.0);
  }
  CHECK_FALSE(held(python.pid()));
  CHECK(serve.child.stderr_text().find(std::to_string(python.pid())) == std::string::npos);
  python.signal(SIGTERM);
}

TEST_CASE("serve writes the last words of a target the OOM killer picks: its heap and goroutines by middleware, "
          "counted in /metrics", "[bpf][serve][oom]") {
  MemoryCgroup cg("150M", "serve-oom");
  REQUIRE(cg.error.empty());
  // allocserver in the cgroup, the preferred victim.
  Child target = Child::spawn({"sh", "-c",
                               "echo $$ > \"$0/cgroup.procs\" && echo 1000 > /proc/self/oom_score_adj && exec \"$1\" "
                               "-memprofilerate 1",
                               cg.dir, fixture("allocserver")});
  auto line = target.wait_stdout_line("listening on", seconds(30));
  REQUIRE(line);
  const int port = std::stoi(line->substr(line->rfind(':') + 1));
  const std::string dir = temp_path("last-words");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string pid = std::to_string(target.pid());
  Serve serve = start_serve({"-p", pid, "--refresh", "1", "--pprof-dir", dir});
  // main.Logging's objects over the load, as the runtime counts them.
  const auto construction = json::parse(*http_get(port, "/debug/construction")).at("functions");
  const auto before = runtime_allocs(port, 1);
  constexpr int kRequests = 200;
  send_load(port, "/work", kRequests);
  const auto after = runtime_allocs(port, 1);
  int64_t truth = 0;
  auto objects = [](const std::map<std::string, RuntimeAllocs>& m, const std::string& fn) {
    auto it = m.find(fn);
    return it == m.end() ? int64_t(0) : it->second.objects;
  };
  for (auto& [fn, c] : construction.items())
    if (c.at("middleware") == "main.Logging") truth += objects(after, fn) - objects(before, fn);
  CHECK(truth >= kRequests);
  // Once a snapshot has all of it (the counter never passes the truth: no /work since).
  const std::string series = "mwscope_alloc_objects_total{pid=\"" + pid +
                             "\",exe=\"allocserver\",middleware=\"main.Logging\"} " + std::to_string(truth) + "\n";
  const auto deadline = steady_clock::now() + seconds(60);
  while (http_get(serve.port, "/metrics")->find(series) == std::string::npos && steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(100));
  REQUIRE(http_get(serve.port, "/metrics")->find(series) != std::string::npos);
  REQUIRE(http_get(port, "/debug/hog"));
  CHECK(target.wait(seconds(120)) != 0);  // killed
  auto said = serve.child.wait_stderr_line("picked by the OOM killer", seconds(30));
  INFO(serve.child.stderr_text());
  REQUIRE(said);
  std::string heap_file;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().string().ends_with(".heap.pb.gz")) heap_file = f.path().string();
  REQUIRE(!heap_file.empty());
  CHECK(heap_file.find("allocserver-" + pid + "-oom-") != std::string::npos);
  // The last snapshot's heap: what main.Logging allocated, as the runtime counted it.
  const PprofRaw heap = pprof_raw(heap_file);
  CHECK(heap.sum("alloc_objects/count", {{"middleware", "main.Logging"}}) == truth);
  auto metrics = http_get(serve.port, "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->find("mwscope_target_last_words_total{exe=\"allocserver\",reason=\"oom\"} 1\n") !=
        std::string::npos);
}
