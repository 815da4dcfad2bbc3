// Goroutine lifecycle against the truth: taskserver's middleware leak one
// goroutine per request on /leak and /leak-select and start short-lived
// workers on /work and /spawn-burst; its /debug/goroutines endpoint is the
// runtime's own goroutine profile (pprof debug=2) grouped by creator.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "harness.h"
#include "real_servers.h"
#include "model/profile.h"
#include "target/gopclntab.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

void send(int port, const std::string& path, int times) {
  for (int i = 0; i < times; i++) REQUIRE(http_get(port, path));
}

struct Recording {
  Child mw;
  std::string json_path, leaks_path;
};

Recording start_recording(pid_t pid, const std::string& name, std::vector<std::string> extra = {}) {
  Recording r{Child::spawn([&] {
                // Exact mode: goroutine tracking and request counting on by default.
                std::vector<std::string> argv{mwscope_binary(), "-p", std::to_string(pid), "--mode", "exact", "--json",
                                              temp_path(name + ".json"), "--leaks-folded",
                                              temp_path(name + ".leaks")};
                argv.insert(argv.end(), extra.begin(), extra.end());
                return argv;
              }()),
              temp_path(name + ".json"), temp_path(name + ".leaks")};
  auto attached = r.mw.wait_stderr_line("attached", seconds(30));
  INFO(r.mw.stderr_text());
  REQUIRE(attached);
  REQUIRE(attached->find("goroutine spawn") != std::string::npos);
  return r;
}

json stop_recording(Recording& r) {
  r.mw.signal(SIGINT);
  INFO(r.mw.stderr_text());
  REQUIRE(r.mw.wait(seconds(60)) == 0);
  return read_profile_json(r.json_path);
}

}  // namespace

void mws::test::check_goroutine_lifecycles(const std::string& taskserver) {
  Server server = start_server(taskserver);
  Recording rec = start_recording(server.child.pid(), "leaks", {"--leak-age", "1"});
  // Coroutines (iter.Pull) exist from Go 1.23: the fixture serves /coro there.
  const bool coroutines = http_get(server.port, "/coro?n=0").value_or("").starts_with("pulled");

  const int leaks = 40, selects = 25, works = 300, burst = 200, coros = 30;
  send(server.port, "/leak", leaks);
  send(server.port, "/leak-select", selects);
  send(server.port, "/work", works);
  send(server.port, "/spawn-burst?n=" + std::to_string(burst), 1);
  if (coroutines) send(server.port, "/coro?n=" + std::to_string(coros), 1);
  std::this_thread::sleep_for(milliseconds(1500));  // past the leak age; the burst's 100 ms sleeps are over
  auto truth = json::parse(*http_get(server.port, "/debug/goroutines"));
  json profile = stop_recording(rec);
  REQUIRE(server.child.running());

  const json& tasks = profile.at("tasks");
  INFO(tasks.dump(1).substr(0, 4000));
  REQUIRE(tasks.at("tracked") == true);
  CHECK(tasks.at("dropped") == 0);
  CHECK(profile.at("meta").at("dropped_events") == 0);

  // The two leaking middleware: exactly one goroutine per request, all
  // alive, with the wait state the runtime reports.
  struct Leak {
    std::string creator, start, state;
    int requests;
  };
  for (const Leak& l : {Leak{"main.Watchdog.func1", "main.Watchdog.func1.1", "chan receive", leaks},
                        Leak{"main.Notifier.func1", "main.Notifier.func1.1", "select", selects}}) {
    INFO(l.start);
    const json* g = group_by_start(profile, l.start);
    REQUIRE(g);
    const uint64_t runtime_count = truth.at("by_creator").at(l.creator).at("count");
    CHECK(runtime_count == uint64_t(l.requests));
    CHECK(g->at("spawned") == l.requests);
    CHECK(g->at("live") == runtime_count);
    CHECK(g->at("leaked") == runtime_count);
    CHECK(g->at("ended") == 0);
    CHECK(state_count(*g, l.state) == truth.at("by_creator").at(l.creator).at("states").at(l.state));
    REQUIRE(!g->at("creation_stack").empty());
    CHECK(g->at("creation_stack")[0].at("function") == l.creator);
    CHECK(g->at("creation_stack")[0].at("line").get<int>() > 0);
  }

  // Workers: every one seen starting and ending, none reported.
  for (auto [start, n] : {std::pair{"main.Offload.func1.1", works}, std::pair{"main.spawnBurstHandler.func1", burst}}) {
    INFO(start);
    const json* g = group_by_start(profile, start);
    REQUIRE(g);
    CHECK(g->at("spawned") == n);
    CHECK(g->at("ended") == n);
    CHECK(g->at("live") == 0);
    CHECK(g->at("leaked") == 0);
  }
  CHECK(!truth.at("by_creator").contains("main.Offload.func1"));

  // Coroutines end through gdestroy without goexit1: each seen ending.
  const auto version = mws::target::parse_go_version(profile.at("meta").at("go_version").get<std::string>());
  REQUIRE(version);
  CHECK(coroutines == (*version >= std::make_pair(1, 23)));
  if (coroutines) {
    const json* coro = nullptr;
    for (const auto& g : profile.at("tasks").at("groups"))
      for (const auto& f : g.at("creation_stack"))
        if (f.at("function") == "main.coroHandler") coro = &g;
    REQUIRE(coro);
    CHECK(coro->at("spawned") == coros);
    CHECK(coro->at("ended") == coros);
    CHECK(coro->at("live") == 0);
  }

  // Each leak is charged to the middleware whose code ran the go statement.
  auto leaked_by = [&](const std::string& name) -> uint64_t {
    for (const auto& m : profile.at("middleware"))
      if (m.at("name") == name) return m.at("leaked_tasks");
    return 0;
  };
  CHECK(leaked_by("main.Watchdog") == uint64_t(leaks));
  CHECK(leaked_by("main.Notifier") == uint64_t(selects));
  CHECK(leaked_by("main.Offload") == 0);

  {  // --leaks-folded: creation stack root first, ending at the go statement, weighted by live count
    std::istringstream in(read_file(rec.leaks_path));
    std::map<std::string, uint64_t> by_leaf;
    std::string line;
    while (std::getline(in, line)) {
      auto space = line.rfind(' ');
      std::string stack = line.substr(0, space);
      std::string leaf = stack.substr(stack.rfind(';') + 1);
      by_leaf[leaf] += std::stoull(line.substr(space + 1));
      if (leaf == "main.Watchdog.func1") CHECK(stack.find("net/http.(*conn).serve") < stack.find("main.Watchdog"));
    }
    CHECK(by_leaf["main.Watchdog.func1"] == uint64_t(leaks));
    CHECK(by_leaf["main.Notifier.func1"] == uint64_t(selects));
    CHECK(by_leaf.count("main.Offload.func1") == 0);
  }
}

// Go's goroutineleak profile (a GC that marks what no running goroutine can
// reach) against the fixture's three kinds of leak: /leak-orphan waits on a
// channel only it holds (unreachable: Go finds it and marks it _Gleaked);
// /leak waits on a context whose cancel function a global keeps, /leak-select
// on a channel nobody writes beside a one-hour timer (both reachable: Go
// cannot call them leaks). mwscope proves the first unreachable itself and
// reads Go's mark, and calls the other two leaked because a request started
// them and they have waited past the leak age.
void mws::test::check_beside_go_leak_detector(const std::string& taskserver) {
  // Every allocation sampled: the heap profile shows which middleware
  // started the reachable leaks (their origin).
  Server server = start_server(taskserver, {"-memprofilerate", "1"});
  constexpr int kOrphans = 6, kLeaks = 5, kSelects = 4;
  send(server.port, "/leak-orphan", kOrphans);
  send(server.port, "/leak", kLeaks);
  send(server.port, "/leak-select", kSelects);
  std::this_thread::sleep_for(milliseconds(200));  // each reaches its wait
  auto go_says = http_get(server.port, "/debug/pprof/goroutineleak?debug=1");
  REQUIRE(go_says);
  INFO(*go_says);
  REQUIRE(go_says->rfind("goroutineleak profile: total " + std::to_string(kOrphans) + "\n", 0) == 0);
  CHECK(go_says->find("main.Orphan.func1.1") != std::string::npos);
  CHECK(go_says->find("main.Watchdog") == std::string::npos);
  CHECK(go_says->find("main.Notifier") == std::string::npos);

  const std::string json_path = temp_path("goleak.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--leak-age", "1", "-d", "1.5",
                           "--json", json_path});
  INFO(mw.stderr_text());
  REQUIRE(mw.wait(seconds(60)) == 0);
  const json profile = read_profile_json(json_path);
  const json& snap = profile.at("goroutines");
  INFO(snap.dump(1).substr(0, 4000));
  REQUIRE(snap.at("read") == true);
  // Every goroutine Go calls leaked, mwscope proves unreachable too (and
  // reads Go's mark); the two leaks whose channel is still referenced Go
  // cannot see, and mwscope calls them leaked because a request started them.
  struct Site {
    const char* start;
    const char* state;  // as mwscope shows it
    int count, unreachable, go_says, per_request;
  };
  for (const Site& site :
       {Site{"main.Orphan.func1.1", "chan receive (leaked, says Go)", kOrphans, kOrphans, kOrphans, kOrphans},
        Site{"main.Watchdog.func1.1", "chan receive", kLeaks, 0, 0, kLeaks},
        Site{"main.Notifier.func1.1", "select", kSelects, 0, 0, kSelects}}) {
    INFO(site.start);
    uint64_t count = 0, leaked = 0, in_state = 0, unreachable = 0, go_says = 0, per_request = 0;
    for (const auto& g : snap.at("groups"))
      if (g.at("start_function") == site.start) {
        count += g.at("count").get<uint64_t>();
        leaked += g.at("leaked").get<uint64_t>();
        in_state += state_count(g, site.state);
        unreachable += g.value("leaked_unreachable", 0);
        go_says += g.value("leaked_go_says", 0);
        per_request += g.value("leaked_per_request", 0);
      }
    CHECK(count == uint64_t(site.count));
    CHECK(in_state == uint64_t(site.count));
    CHECK(leaked == uint64_t(site.count));
    CHECK(unreachable == uint64_t(site.unreachable));
    CHECK(go_says == uint64_t(site.go_says));
    CHECK(per_request == uint64_t(site.per_request));
  }
  CHECK(snap.at("leaked") == kOrphans + kLeaks + kSelects);  // nothing else
  CHECK(snap.at("reachability").at("unreachable") == kOrphans);
}

TEST_CASE("leaked goroutines are counted exactly at the leaking site, workers are not", "[bpf][goroutines]") {
  check_goroutine_lifecycles("taskserver");
}

TEST_CASE("goroutines that existed before attach are kept apart", "[bpf][goroutines]") {
  Server server = start_server("taskserver");
  const int before = 12, during = 7;
  send(server.port, "/leak", before);
  std::this_thread::sleep_for(milliseconds(200));
  Recording rec = start_recording(server.child.pid(), "preexisting", {"--leak-age", "0"});
  send(server.port, "/leak", during);
  std::this_thread::sleep_for(milliseconds(300));
  json profile = stop_recording(rec);

  const json& tasks = profile.at("tasks");
  INFO(tasks.dump(1).substr(0, 3000));
  const json* g = group_by_start(profile, "main.Watchdog.func1.1");
  REQUIRE(g);
  CHECK(g->at("leaked") == during);
  uint64_t pre_watchdog = 0;
  for (const auto& p : tasks.at("preexisting"))
    if (p.at("start_function") == "main.Watchdog.func1.1") {
      CHECK(p.at("created_by") == "main.Watchdog.func1");
      pre_watchdog += p.at("alive_at_attach").get<uint64_t>();
    }
  CHECK(pre_watchdog == uint64_t(before));
  CHECK(tasks.at("preexisting_at_attach").get<uint64_t>() >= uint64_t(before));
}

TEST_CASE("the target is unharmed by repeated attach and detach under load", "[bpf][goroutines][safety]") {
  Server server = start_server("taskserver");
  std::string base = "http://127.0.0.1:" + std::to_string(server.port);
  Child load = Child::spawn({fixture("loadgen"), "-url", base + "/work," + base + "/spawn-burst?n=3," + base + "/health",
                             "-n", "0", "-c", "4", "-duration", "14s"});
  for (int i = 0; i < 5; i++) {
    auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1.5", "--mode", "exact"}, seconds(60));
    INFO("attach " << i << ": " << r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("attached") != std::string::npos);
    REQUIRE(server.child.running());
  }
  INFO(load.stdout_text() << load.stderr_text());
  CHECK(load.wait(seconds(60)) == 0);  // loadgen exits non-zero on any failed request
  auto out = json::parse(load.stdout_text());
  CHECK(out.at("errors") == 0);
  CHECK(out.at("requests").get<uint64_t>() > 100);
  CHECK(server.child.running());
  CHECK(http_get(server.port, "/debug/goroutines"));
}

// In the default (sampled) mode goroutine tracking is off: every goroutine
// is read from memory, those that leaked before attach included. Leaked
// goroutines here are the fixture's by construction (one per /leak,
// /leak-select and /leak-orphan request), started by its middleware; the
// runtime samples every allocation (-memprofilerate 1), so its heap profile
// shows each middleware's code and the verdict can call them per request.
TEST_CASE("the default mode reads every goroutine from memory: leaks from before attach, exactly, with their evidence",
          "[bpf][goroutines][leaks]") {
  Server server = start_server("taskserver", {"-memprofilerate", "1"});
  constexpr int kLeaks = 40, kSelects = 20, kOrphans = 10;
  send(server.port, "/leak", kLeaks);  // leaked before anyone looked
  send(server.port, "/leak-select", kSelects);
  send(server.port, "/leak-orphan", kOrphans);
  std::this_thread::sleep_for(milliseconds(200));  // each reaches its wait
  const std::string json_path = temp_path("snapshot.json"), leaks_path = temp_path("snapshot.leaks");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--leaks-folded", leaks_path,
                           "--leak-age", "2", "--json", json_path});
  auto attached = mw.wait_stderr_line("attached", seconds(30));
  INFO(mw.stderr_text());
  REQUIRE(attached);
  CHECK(attached->find("sampled allocations") != std::string::npos);  // the default mode,
  CHECK(attached->find("goroutine spawn") == std::string::npos);      // no goroutine probe
  // Past the leak age: what waited at attach and waits at the end has
  // waited at least this long.
  std::this_thread::sleep_for(milliseconds(2500));
  // The same leak, still growing, too young to be called leaked: they
  // block well under the leak age before the end.
  constexpr int kMore = 7;
  send(server.port, "/leak", kMore);
  std::this_thread::sleep_for(milliseconds(300));
  const json truth = json::parse(*http_get(server.port, "/debug/goroutines")).at("by_creator");
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  const json profile = read_profile_json(json_path);
  const json& snap = profile.at("goroutines");
  INFO(snap.dump(1).substr(0, 6000));
  REQUIRE(snap.at("read") == true);
  CHECK(profile.at("tasks").at("tracked") == false);

  // Per leaking site: as many as the runtime's goroutine profile lists,
  // parked where it says; exactly those from before attach leaked, started
  // per request by the middleware whose code ran the go statement.
  struct Site {
    const char* start;
    const char* creator;
    const char* middleware;
    const char* state;
    int before, during;
  };
  for (const Site& site :
       {Site{"main.Watchdog.func1.1", "main.Watchdog.func1", "main.Watchdog", "chan receive", kLeaks, kMore},
        Site{"main.Notifier.func1.1", "main.Notifier.func1", "main.Notifier", "select", kSelects, 0},
        Site{"main.Orphan.func1.1", "main.Orphan.func1", "main.Orphan", "chan receive", kOrphans, 0}}) {
    INFO(site.start);
    const int all = site.before + site.during;
    REQUIRE(truth.at(site.creator).at("count") == all);
    uint64_t count = 0, at_attach = 0, leaked = 0, per_request = 0, before_attach = 0, waiting = 0, other = 0;
    for (const auto& g : snap.at("groups")) {
      if (g.at("start_function") != site.start) continue;
      count += g.at("count").get<uint64_t>();
      at_attach += g.at("at_attach").get<uint64_t>();
      leaked += g.at("leaked").get<uint64_t>();
      per_request += g.value("leaked_per_request", 0);
      before_attach += g.at("leaked_before_attach").get<uint64_t>();
      other += g.value("long_lived", 0) + g.value("suspect", 0) + g.value("in_flight", 0);
      waiting += state_count(g, site.state);
      CHECK(g.at("origin") == "request");
      CHECK(g.at("middleware") == site.middleware);
      CHECK(g.at("stack").at(0).at("function").get<std::string>().rfind("runtime.gopark", 0) == 0);
    }
    CHECK(count == uint64_t(all));
    CHECK(at_attach == uint64_t(site.before));  // grew by exactly what was sent while recording
    CHECK(leaked == uint64_t(site.before));
    CHECK(per_request == uint64_t(site.before));
    CHECK(before_attach == uint64_t(site.before));
    // Unreachable only where nothing else holds the channel (Orphan); how
    // many are proven depends on whether a GC freed their closures yet.
    const uint64_t unreachable = [&] {
      uint64_t n = 0;
      for (const auto& g : snap.at("groups"))
        if (g.at("start_function") == site.start) n += g.value("leaked_unreachable", 0);
      return n;
    }();
    CHECK(unreachable <= (std::string(site.start) == "main.Orphan.func1.1" ? uint64_t(site.before) : 0));
    CHECK(other == 0);
    CHECK(waiting == uint64_t(all));
  }
  // Nothing else leaked: the main goroutine waiting for a signal, the
  // accept loop and idle connections are not leaks.
  CHECK(snap.at("leaked") == kLeaks + kSelects + kOrphans);

  // The folded file: one line per parked stack, weighted by its leaked goroutines.
  const std::string folded = read_file(leaks_path);
  INFO(folded);
  std::map<std::string, uint64_t> by_start;
  std::istringstream lines(folded);
  std::string line;
  while (std::getline(lines, line)) {
    for (const char* start : {"main.Watchdog.func1.1", "main.Notifier.func1.1", "main.Orphan.func1.1"})
      if (line.find(std::string(";") + start + ";") != std::string::npos)
        by_start[start] += std::stoull(line.substr(line.rfind(' ') + 1));
  }
  CHECK(by_start == std::map<std::string, uint64_t>{
                        {"main.Watchdog.func1.1", kLeaks}, {"main.Notifier.func1.1", kSelects},
                        {"main.Orphan.func1.1", kOrphans}});
  CHECK(mw.stderr_text().find("before attach included") != std::string::npos);
}


// A real, stripped third-party server: Debian's caddy (built by Debian with
// its own Go), idle, with its admin endpoint's pprof. Every goroutine the
// runtime lists is read by mwscope, parked at the same place. Idle timers
// may wake one now and then: a comparison counts only when the runtime's
// own view is the same just before and just after mwscope's reading.
TEST_CASE("Debian's caddy: every goroutine read from memory, as its own goroutine profile lists them",
          "[bpf][goroutines][caddy]") {
  RealServer caddy = start_caddy("caddy", "\trespond \"ok\"\n");
  const int admin = caddy.admin, site = caddy.port;
  REQUIRE(http_get(site, "/") == std::optional<std::string>("ok"));

  bool compared = false;
  for (int attempt = 0; attempt < 3 && !compared; attempt++) {
    const auto before = pprof_sites(admin);
    const std::string json_path = temp_path("caddy.json");
    auto r = run({mwscope_binary(), "-p", std::to_string(caddy.child.pid()), "-d", "0.5", "--json", json_path});
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto after = pprof_sites(admin);
    if (before != after) continue;  // a timer fired meanwhile: not a fair comparison
    const json profile = read_profile_json(json_path);
    const json& snap = profile.at("goroutines");
    REQUIRE(snap.at("read") == true);
    std::map<std::string, uint64_t> ours;
    for (const auto& g : snap.at("groups")) {
      std::vector<std::string> frames;
      for (const auto& f : g.at("stack")) frames.push_back(f.at("function"));
      ours[site_of(frames)] += g.at("count").get<uint64_t>();
    }
    std::ostringstream both;
    for (const auto& [s, n] : after) both << "  pprof " << n << " " << s << "\n";
    for (const auto& [s, n] : ours) both << "  mwscope " << n << " " << s << "\n";
    INFO(both.str());
    CHECK(after.size() >= 5);  // caddy's own workers, not just net/http
    CHECK(ours == after);
    compared = true;
  }
  CHECK(compared);
}
