// pprof files, read by Debian's own `go tool pprof` (not by mwscope): the
// heap profile's totals per middleware label equal the runtime's own
// profile (exact mode) and the fixture's construction, and (a
// self-comparison) mwscope's JSON; the goroutine profile counts per site
// what the runtime's own goroutine profile lists, and the leaks the fixture
// made.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;
using json = nlohmann::json;

namespace {

// "Showing nodes accounting for 47, 6.03% of 780 total": the 47 that
// `go tool pprof -top` shows with this filter (every node shown).
int64_t pprof_top_shown(const std::string& path, const std::vector<std::string>& filter) {
  std::vector<std::string> argv{"go", "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=1000000"};
  argv.insert(argv.end(), filter.begin(), filter.end());
  argv.push_back(path);
  auto r = run(argv, seconds(60));
  INFO(r.err << r.out.substr(0, 2000));
  REQUIRE(r.status == 0);
  const auto at = r.out.find("Showing nodes accounting for ");
  REQUIRE(at != std::string::npos);
  return std::stoll(r.out.substr(at + 29));
}

}  // namespace

TEST_CASE("the heap profile of --pprof: go tool pprof reads it, per middleware label as the runtime's profile and "
          "the construction, and the same as mwscope's JSON (self-comparison)",
          "[bpf][pprof]") {
  const std::string mode = GENERATE("exact", "sampled");
  INFO("mode " << mode);
  // Sampled mode at Go's default rate: estimates, with the period pprof shows.
  Server server = start_server("allocserver", mode == "sampled" ? std::vector<std::string>{"-memprofilerate", "4096"}
                                                                : std::vector<std::string>{});
  const json construction = json::parse(*http_get(server.port, "/debug/construction"));
  const std::string json_path = temp_path("pprof-" + mode + ".json"), pprof_path = temp_path("pprof-" + mode + ".pb.gz");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", mode, "--json",
                           json_path, "--pprof", pprof_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  constexpr int kRequests = 400;
  // The runtime's own profile around the load (exact mode: rate 1, every
  // allocation), per innermost main.* function.
  std::map<std::string, RuntimeAllocs> truth_before, truth_after;
  if (mode == "exact") truth_before = runtime_allocs(server.port, 1);
  send_load(server.port, "/work", kRequests);
  if (mode == "exact") truth_after = runtime_allocs(server.port, 1);
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  CHECK(mw.stderr_text().find("wrote " + mode + "-mode heap profile") != std::string::npos);
  const json profile = read_profile_json(json_path);
  const PprofRaw pprof = pprof_raw(pprof_path);
  INFO(pprof.text.substr(0, 3000));
  REQUIRE(pprof.sample_types ==
          std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"});
  CHECK(pprof.default_type == "alloc_space/bytes");  // who allocates: what mwscope is for
  CHECK(pprof.text.find(mode == "sampled" ? "Period: 4096" : "Period: 1") != std::string::npos);

  // Every middleware row of the JSON, as pprof sums its label.
  for (const auto& row : profile.at("middleware")) {
    const std::string name = row.at("name");
    INFO(name);
    const std::map<std::string, std::string> where{{"middleware", name}};
    CHECK(pprof.sum("alloc_objects/count", where) == row.at("objects").get<int64_t>());
    CHECK(pprof.sum("alloc_space/bytes", where) == row.at("bytes").get<int64_t>());
    CHECK(pprof.sum("inuse_space/bytes", where) == row.at("inuse_bytes").get<int64_t>());
  }
  // The whole profile: every stack's counts, none lost or doubled.
  int64_t objects = 0, inuse = 0;
  for (const auto& s : profile.at("stacks")) {
    objects += s.at("objects").get<int64_t>();
    inuse += std::max<int64_t>(s.at("inuse_bytes").get<int64_t>(), 0);
  }
  CHECK(pprof.sum("alloc_objects/count") == objects);
  CHECK(pprof.sum("inuse_space/bytes") == inuse);

  // From the saved profile, later and without the target: the same figures.
  const std::string again_path = temp_path("pprof-again-" + mode + ".pb.gz");
  auto report = run({mwscope_binary(), "report", json_path, "--pprof", again_path});
  INFO(report.err);
  REQUIRE(report.status == 0);
  const PprofRaw again = pprof_raw(again_path);
  for (const char* type : {"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"})
    for (const auto& row : profile.at("middleware"))
      CHECK(again.sum(type, {{"middleware", row.at("name")}}) == pprof.sum(type, {{"middleware", row.at("name")}}));

  // Exact mode against the truth: per middleware label, the objects the
  // runtime's own profile recorded for that middleware's functions, exactly;
  // the bytes too, but for objects the construction does not size (the
  // stdlib's http.Request, GC-assist sudogs): pprof has the requested size,
  // the runtime the size class, which is at least that and less than twice it.
  // And pprof's own filter (-tagfocus) finds the same total.
  if (mode == "exact") {
    std::map<std::string, RuntimeAllocs> truth;  // per middleware
    std::map<std::string, int64_t> own_objects, own_bytes;  // by construction, exact size classes
    for (auto& [fn, c] : construction.at("functions").items()) {
      if (c.contains("routes") && std::find(c.at("routes").begin(), c.at("routes").end(), "/work") == c.at("routes").end())
        continue;  // not on the route this test drives
      const std::string name = c.at("middleware");
      RuntimeAllocs& t = truth[name];
      t.objects += truth_after[fn].objects - truth_before[fn].objects;
      t.bytes += truth_after[fn].bytes - truth_before[fn].bytes;
      own_objects[name] += c.at("objects_per_request").get<int64_t>() * kRequests;
      own_bytes[name] += c.at("objects_per_request").get<int64_t>() * kRequests * c.at("bytes_per_object").get<int64_t>();
    }
    REQUIRE(truth.size() >= 4);
    for (const auto& [name, t] : truth) {
      const int64_t objects = pprof.sum("alloc_objects/count", {{"middleware", name}});
      const int64_t bytes = pprof.sum("alloc_space/bytes", {{"middleware", name}});
      INFO(name << ": runtime " << t.objects << " objects / " << t.bytes << " B, construction " << own_objects[name]
                << " / " << own_bytes[name] << " B, pprof " << objects << " / " << bytes << " B");
      CHECK(objects == t.objects);
      CHECK(objects >= own_objects[name]);
      REQUIRE(t.bytes >= own_bytes[name]);
      CHECK(bytes <= t.bytes);
      CHECK(bytes >= own_bytes[name] + (t.bytes - own_bytes[name] + 1) / 2);
    }
    CHECK(pprof_top_shown(pprof_path, {"-sample_index=alloc_objects", "-tagfocus=middleware=main.authMiddleware"}) ==
          pprof.sum("alloc_objects/count", {{"middleware", "main.authMiddleware"}}));
    auto tags = run({"go", "tool", "pprof", "-tags", pprof_path});
    REQUIRE(tags.status == 0);
    for (const char* m : {"main.Logging", "main.RequestID", "main.authMiddleware", "main.workHandler"})
      CHECK(tags.out.find(m) != std::string::npos);
  }
}

TEST_CASE("the goroutine profile of --pprof-goroutines: go tool pprof counts the goroutines as the runtime lists them, leaks labelled",
          "[bpf][pprof][goroutines]") {
  // The runtime's own goroutine profile is read just before and just after
  // mwscope's recording; a comparison counts only when the two agree (a
  // timer or the runtime may start or end a goroutine meanwhile).
  Server server = start_server("taskserver", {"-memprofilerate", "1"});  // its middleware's code in the heap profile
  constexpr int kLeaks = 25;
  for (int i = 0; i < kLeaks; i++) REQUIRE(http_get(server.port, "/leak"));
  std::this_thread::sleep_for(milliseconds(200));  // each reaches its wait
  const std::string json_path = temp_path("goroutines.json"), pprof_path = temp_path("goroutines.pb.gz");
  std::map<std::string, uint64_t> runtime_sites;
  bool settled = false;
  for (int attempt = 0; attempt < 5 && !settled; attempt++) {
    const auto before = pprof_sites(server.port);
    auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1.5", "--leak-age", "1", "--json",
                  json_path, "--pprof-goroutines", pprof_path});
    INFO(r.err);
    REQUIRE(r.status == 0);
    runtime_sites = pprof_sites(server.port);
    settled = before == runtime_sites;
  }
  REQUIRE(settled);
  const json snap = read_profile_json(json_path).at("goroutines");
  const PprofRaw pprof = pprof_raw(pprof_path);
  INFO(pprof.text.substr(0, 3000));
  REQUIRE(pprof.sample_types == std::vector<std::string>{"goroutine/count"});
  // Against the runtime: every site its own profile lists, with as many
  // goroutines, and no other.
  std::map<std::string, uint64_t> pprof_per_site;
  for (const auto& s : pprof.samples) pprof_per_site[site_of(s.frames)] += uint64_t(s.values.at(0));
  {
    std::ostringstream both;
    for (const auto& [site, n] : runtime_sites) both << "  runtime " << n << " " << site << "\n";
    for (const auto& [site, n] : pprof_per_site) both << "  pprof " << n << " " << site << "\n";
    INFO(both.str());
    CHECK(runtime_sites.at("main.Watchdog.func1.1") == uint64_t(kLeaks));  // the construction, on the runtime's word
    CHECK(pprof_per_site == runtime_sites);
  }
  // The same file against mwscope's own JSON (a self-comparison).
  CHECK(pprof.sum("goroutine/count") == snap.at("total").get<int64_t>());
  CHECK(pprof.sum("goroutine/count", {{"leaked", "true"}}) == snap.at("leaked").get<int64_t>());
  // The fixture's leaks, by construction: parked on a channel receive, all
  // leaked because a request started them, labelled with the middleware
  // that did (as the JSON's rows charge them).
  CHECK(pprof.sum("goroutine/count", {{"leaked", "true"}}) == kLeaks);
  CHECK(pprof.sum("goroutine/count", {{"verdict", "leaked"}, {"why", "per request"}, {"state", "chan receive"},
                                      {"middleware", "main.Watchdog"}}) == kLeaks);
  CHECK(pprof_top_shown(pprof_path, {"-tagfocus=leaked=true", "-focus=main.Watchdog.func1.1"}) == kLeaks);
}
