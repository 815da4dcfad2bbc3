// Work a middleware hands to goroutines (issue 17): tests/fixtures/fanserver's
// FanOut allocates fanSelf objects per request itself and starts goroutines
// that allocate the rest (one of them starts a nested goroutine, which leaks
// one goroutine every few requests). With goroutine creation tracked, its row
// must show its own work as self and its goroutines' (transitively) as via,
// each equal to what the runtime's own profile charges to those functions over
// the same requests, in exact mode (every allocation) and in sampled mode (the
// runtime's raw samples); the leaked goroutines are charged to it via
// goroutines, as many as the fixture started.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

const json* row(const json& profile, const std::string& name) {
  for (const auto& m : profile.at("middleware"))
    if (m.at("name") == name) return &m;
  return nullptr;
}

int64_t sum_of(const std::map<std::string, RuntimeAllocs>& before, const std::map<std::string, RuntimeAllocs>& after,
               const json& functions) {
  int64_t n = 0;
  for (auto& [fn, per_request] : functions.items()) {
    const auto a = after.find(fn), b = before.find(fn);
    n += (a == after.end() ? 0 : a->second.objects) - (b == before.end() ? 0 : b->second.objects);
  }
  return n;
}

uint64_t leaks(int port) { return json::parse(*http_get(port, "/debug/leaks")).at("leaks").get<uint64_t>(); }

// The fan-out's share of the folded file: lines where the go statement of
// one of FanOut's goroutines sits above the allocating stack.
uint64_t folded_via(const std::string& folded) {
  std::istringstream in(folded);
  std::string line;
  uint64_t sum = 0;
  while (std::getline(in, line)) {
    const size_t mw = line.find("main.FanOut.func1;");
    if (mw != std::string::npos && line.find(";[go statement];", mw) != std::string::npos)
      sum += std::stoull(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace

void mws::test::check_fan_out(const std::string& fanserver, const std::string& mode) {
  INFO(fanserver << ", mode " << mode);
  const int rate = mode == "exact" ? 1 : 4096;
  Server server = start_server(fanserver, {"-memprofilerate", std::to_string(rate)});
  const json construction = json::parse(*http_get(server.port, "/debug/construction"));
  const std::string json_path = temp_path("fanout-" + mode + ".json"),
                    folded_path = temp_path("fanout-" + mode + ".folded"),
                    pprof_path = temp_path("fanout-" + mode + ".pb.gz");
  const double leak_age_s = 1;
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", mode,
                           "--goroutines", "--requests", "--leak-age", "1", "--json", json_path, "--folded",
                           folded_path, "--weight", mode == "exact" ? "objects" : "samples", "--pprof", pprof_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));

  const auto before = runtime_allocs(server.port, rate);
  const uint64_t leaks_before = leaks(server.port);
  const int n = mode == "exact" ? 1000 : 4000;  // sampled: ~1 sample per 3 requests via goroutines
  send_load(server.port, "/fan", n);
  const auto after = runtime_allocs(server.port, rate);
  const uint64_t leaked = leaks(server.port) - leaks_before;
  // Every goroutine leaked while recording is older than the leak age at the end.
  std::this_thread::sleep_for(duration<double>(leak_age_s + 0.5));
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  INFO(mw.stderr_text());
  const json profile = read_profile_json(json_path);
  const json* fan = row(profile, construction.at("middleware"));
  REQUIRE(fan);
  INFO(fan->dump());

  // Nothing was lost on the way: every goroutine kept its context and every
  // context was resolved.
  CHECK(profile.at("meta").at("dropped_events") == 0);
  CHECK(profile.at("meta").at("spawn_ctx_lost") == 0);
  CHECK(profile.at("meta").at("spawn_unresolved_objects") == 0);

  // Ours per stack: self (FanOut the innermost middleware on the stack) and
  // via (the part its goroutines made), each split by whether the runtime
  // allocated on the system stack (a new g in newproc1, for a go statement):
  // mwscope's frame walk crosses into the goroutine there, the runtime's own
  // traceback stops, so the runtime charges those to no main.* function.
  struct Part {
    int64_t all = 0, system_stack = 0;
  } self, via;
  std::map<std::pair<std::string, std::string>, int64_t> by_type;  // (innermost main.*, type) -> via or self objects
  const std::string name = construction.at("middleware");
  std::set<uint64_t> fan_chains;
  for (size_t i = 0; i < profile.at("spawn_chains").size(); i++)
    if (profile.at("spawn_chains")[i].at("middleware") == name) fan_chains.insert(i);
  const char* weight = mode == "exact" ? "objects" : "samples";
  for (const auto& s : profile.at("stacks")) {
    bool system_stack = false;
    for (const auto& f : s.at("frames")) system_stack |= f.at("function") == "runtime.systemstack";
    int64_t mine = 0;
    if (s.at("middleware") == name) {
      mine = s.at(weight).get<int64_t>();
      self.all += mine;
      if (system_stack) self.system_stack += mine;
    }
    if (s.contains("spawned_by"))
      for (const auto& share : s.at("spawned_by"))
        if (fan_chains.count(share.at("chain").get<uint64_t>())) {
          const int64_t w = share.at(weight).get<int64_t>();
          via.all += w;
          if (system_stack) via.system_stack += w;
          mine += w;
        }
    if (mine) by_type[{innermost_main(s), s.value("type", "")}] += mine;
  }
  CHECK(fan->at(weight).get<int64_t>() == self.all);
  CHECK(fan->at(mode == "exact" ? "via_objects" : "via_samples").get<int64_t>() == via.all);

  // Self and via against the runtime's own profile over the same requests
  // (the runtime's raw samples in sampled mode), per function as the
  // fixture states them: FanOut's closure is self, its goroutines' functions via.
  const int64_t self_truth = sum_of(before, after, construction.at("self"));
  const int64_t via_truth = sum_of(before, after, construction.at("via"));
  INFO("runtime: self " << self_truth << ", via " << via_truth << "; ours on the system stack: self "
                        << self.system_stack << ", via " << via.system_stack);
  CHECK(self.all - self.system_stack == self_truth);
  CHECK(via.all - via.system_stack == via_truth);
  if (mode == "exact") {
    // And the construction: what the code allocates itself, exact per type
    // (the runtime adds sudogs and, on the system stack, a g now and then).
    for (auto& [fn, types] : construction.at("types").items())
      for (auto& [type, per_request] : types.items()) {
        INFO(fn << " " << type);
        CHECK(by_type[{fn, type}] == per_request.get<int64_t>() * n);
      }
    int via_per_request = 0;
    for (auto& [fn, k] : construction.at("via").items()) via_per_request += k.get<int>();
    const int self_per_request = construction.at("self").at("main.FanOut.func1");
    CHECK(self_truth >= int64_t(n) * self_per_request);
    CHECK(via_truth >= int64_t(n) * via_per_request);
  }

  // The leaked goroutines: created by a goroutine FanOut started, so not in
  // its own code (self 0) but via its goroutines, every one.
  CHECK(leaked == uint64_t(n / construction.at("leak_every").get<int>()));
  CHECK(fan->at("leaked_tasks") == 0);
  CHECK(fan->at("via_leaked_tasks").get<uint64_t>() == leaked);
  const json* g = group_by_start(profile, "main.fanLeak");
  REQUIRE(g);
  CHECK(g->at("leaked").get<uint64_t>() == leaked);

  // Folded: the fan-out sits under FanOut's go statements, weighing what
  // its row says it did via goroutines.
  CHECK(int64_t(folded_via(read_file(folded_path))) == via.all);
  // pprof: the same part, as go tool pprof reads it, under the label via_middleware.
  if (mode == "exact") {
    const PprofRaw raw = pprof_raw(pprof_path);
    INFO(raw.text.substr(0, 2000));
    CHECK(raw.sum("alloc_objects/count", {{"via_middleware", name}}) == via.all);
    CHECK(raw.sum("alloc_objects/count") == profile.at("totals").at("objects").get<int64_t>());
  }
}

TEST_CASE("a goroutine a middleware started before mwscope attached is charged to it via its go statement",
          "[bpf][fanout]") {
  Server server = start_server("fanserver");
  const json construction = json::parse(*http_get(server.port, "/debug/construction"));
  const json& background = construction.at("background");
  REQUIRE(http_get(server.port, "/fan?background"));  // before attaching: FanOut starts fanBackground
  const std::string json_path = temp_path("fanout-before.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", "exact",
                           "--goroutines", "--json", json_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  const int pokes = 50;
  for (int i = 0; i < pokes; i++) REQUIRE(http_get(server.port, "/debug/poke"));
  // The go statement alone does not say FanOut.func1 is middleware (its
  // caller does): it is, once the recording has seen it serve a request.
  REQUIRE(http_get(server.port, "/fan"));
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  const json profile = read_profile_json(json_path);
  const json* fan = row(profile, construction.at("middleware"));
  REQUIRE(fan);
  INFO(fan->dump());
  CHECK(profile.at("meta").at("spawn_ctx_lost") == 0);
  // What fanBackground allocated while recording, as the fixture states it,
  // all of it FanOut's via goroutines (its chain: the go statement in FanOut).
  int64_t objects = 0, via_fan = 0;
  for (const auto& s : profile.at("stacks")) {
    if (innermost_main(s) != background.at("function") || s.value("type", "") != background.at("type")) continue;
    objects += s.at("objects").get<int64_t>();
    if (s.contains("spawned_by"))
      for (const auto& share : s.at("spawned_by"))
        if (profile.at("spawn_chains")[share.at("chain").get<size_t>()].at("middleware") == fan->at("name"))
          via_fan += share.at("objects").get<int64_t>();
  }
  CHECK(objects == pokes * background.at("per_poke").get<int64_t>());
  CHECK(via_fan == objects);
  CHECK(fan->at("via_objects").get<int64_t>() >= via_fan);
}

TEST_CASE("work a middleware hands to goroutines is charged to it via goroutines, self apart, in exact mode",
          "[bpf][fanout]") {
  check_fan_out("fanserver", "exact");
}

TEST_CASE("work a middleware hands to goroutines is charged to it via goroutines, self apart, in sampled mode",
          "[bpf][fanout]") {
  check_fan_out("fanserver", "sampled");
}
