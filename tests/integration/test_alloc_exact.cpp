// Exact mode against the truth: the fixture runs with MemProfileRate = 1,
// so runtime.MemProfile records every allocation; per fixture function
// (innermost main.* frame), mwscope must count the same objects.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct Counts {
  uint64_t objects = 0, bytes = 0;
};

std::map<std::string, Counts> runtime_counts(int port) {
  auto body = http_get(port, "/debug/allocs");
  REQUIRE(body);
  std::map<std::string, Counts> out;
  const json doc = json::parse(*body);  // keep it alive: items() only views it
  for (auto& [fn, c] : doc.at("functions").items())
    out[fn] = {c.at("objects").get<uint64_t>(), c.at("bytes").get<uint64_t>()};
  return out;
}

// Per innermost main.* frame of every stack, like the fixture's own truth.
std::map<std::string, Counts> mwscope_counts(const json& profile) {
  std::map<std::string, Counts> out;
  for (const auto& s : profile.at("stacks")) {
    for (const auto& f : s.at("frames")) {
      std::string fn = f.at("function");
      if (fn.rfind("main.", 0) == 0) {
        out[fn].objects += s.at("objects").get<uint64_t>();
        out[fn].bytes += s.at("bytes").get<uint64_t>();
        break;
      }
    }
  }
  return out;
}

void drive_load(int port, int n) {
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto r = run({fixture("loadgen"), "-url", base + "/work," + base + "/health", "-n", std::to_string(n), "-c", "4"},
               seconds(120));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
}

}  // namespace

TEST_CASE("exact mode counts every allocation per function, as the Go runtime does", "[bpf][exact]") {
  Server server = start_server("allocserver");
  const std::string json_path = temp_path("exact.json"), folded_path = temp_path("exact.folded");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--folded", folded_path, "--weight", "objects", "--mode", "exact"});
  auto attached = mw.wait_stderr_line("attached", seconds(30));
  INFO(mw.stderr_text());
  REQUIRE(attached);

  auto construction = json::parse(*http_get(server.port, "/debug/construction")).at("functions");
  auto before = runtime_counts(server.port);
  const int requests = 1500;
  drive_load(server.port, requests);
  auto after = runtime_counts(server.port);

  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  REQUIRE(server.child.running());  // the target survived attach and detach

  json profile = json::parse(read_file(json_path));
  INFO(profile.at("meta").dump());
  CHECK(profile.at("meta").at("dropped_events").get<uint64_t>() == 0);
  auto ours = mwscope_counts(profile);

  // Every middleware of the construction, and every other main.* function
  // that allocated in the window except the truth endpoint itself.
  std::set<std::string> compared;
  for (auto& [fn, _] : construction.items()) compared.insert(fn);
  for (auto& [fn, c] : after)
    if (c.objects > before[fn].objects && fn.find("debug") == std::string::npos &&
        fn.find("Debug") == std::string::npos)
      compared.insert(fn);
  REQUIRE(compared.size() >= 4);

  for (const auto& fn : compared) {
    const uint64_t truth = after[fn].objects - before[fn].objects;
    INFO(fn << ": runtime " << truth << " objects, mwscope " << ours[fn].objects);
    REQUIRE(truth > 0);
    CHECK(std::fabs(double(ours[fn].objects) - double(truth)) <= 0.01 * double(truth));
    const uint64_t truth_bytes = after[fn].bytes - before[fn].bytes;
    // mwscope counts requested bytes, the runtime size-class bytes: ours <= theirs.
    CHECK(ours[fn].bytes <= truth_bytes);
  }
  // The construction itself: requests x objects per request (sanity of the fixture).
  for (auto& [fn, c] : construction.items()) {
    uint64_t per_req = c.at("objects_per_request");
    INFO(fn);
    CHECK(ours[fn].objects >= per_req * requests / 2);
  }

  SECTION("stacks are symbolized through net/http with file:line") {
    bool saw_serve = false, saw_conn = false, main_has_lines = true;
    for (const auto& s : profile.at("stacks"))
      for (const auto& f : s.at("frames")) {
        std::string fn = f.at("function");
        saw_serve |= fn == "net/http.HandlerFunc.ServeHTTP";
        saw_conn |= fn == "net/http.(*conn).serve";
        if (fn.rfind("main.", 0) == 0)
          main_has_lines &= f.at("line").get<int>() > 0 && f.at("file").get<std::string>().ends_with(".go");
      }
    CHECK(saw_serve);
    CHECK(saw_conn);
    CHECK(main_has_lines);
  }

  SECTION("folded output: root first, leaf last, integer weights summing to the total") {
    std::istringstream in(read_file(folded_path));
    std::string line;
    uint64_t sum = 0;
    size_t lines = 0;
    const std::regex shape(R"(^[^ ;]+(;[^;]+)* \d+$)");
    while (std::getline(in, line)) {
      INFO(line);
      REQUIRE(std::regex_match(line, shape));
      sum += std::stoull(line.substr(line.rfind(' ') + 1));
      lines++;
      if (line.find("main.Logging") != std::string::npos)
        CHECK(line.find("net/http.(*conn).serve") < line.find("main.Logging"));
    }
    CHECK(lines > 0);
    CHECK(sum == profile.at("totals").at("objects").get<uint64_t>());
  }
}

namespace {

// Stacks through a main.* frame, keyed by their frames, from a recording of
// `requests` requests against a fresh `fixture_name` server.
std::map<std::string, uint64_t> main_stacks(const std::string& fixture_name, int requests) {
  Server server = start_server(fixture_name);
  const std::string json_path = temp_path(fixture_name + ".json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--mode", "exact", "--no-goroutines"});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  drive_load(server.port, requests);
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  json profile = json::parse(read_file(json_path));
  std::map<std::string, uint64_t> out;
  for (const auto& s : profile.at("stacks")) {
    std::string key;
    bool through_main = false;
    for (const auto& f : s.at("frames")) {
      through_main |= f.at("function").get<std::string>().rfind("main.", 0) == 0;
      key += f.dump() + "\n";
    }
    if (through_main) out[key] += s.at("objects").get<uint64_t>();
  }
  return out;
}

}  // namespace

TEST_CASE("a stripped build gives the same symbolized stacks as the unstripped one", "[bpf][stripped]") {
  const int requests = 400;
  auto full = main_stacks("allocserver", requests);
  auto stripped = main_stacks("allocserver_stripped", requests);
  REQUIRE(full.size() >= 5);
  // Same functions, files, lines and inlined frames, stack for stack; the
  // middleware allocate by construction, so the counts match too.
  std::vector<std::string> only_full, only_stripped;
  for (const auto& [k, n] : full)
    if (!stripped.count(k)) only_full.push_back(k);
  for (const auto& [k, n] : stripped)
    if (!full.count(k)) only_stripped.push_back(k);
  INFO("only in the unstripped run: " << (only_full.empty() ? "" : only_full.front()));
  INFO("only in the stripped run: " << (only_stripped.empty() ? "" : only_stripped.front()));
  CHECK(only_full.size() <= full.size() / 10);  // rare runtime-internal stacks (GC assists) may differ
  size_t same_counts = 0;
  for (const auto& [k, n] : full)
    if (stripped.count(k) && stripped[k] == n) same_counts++;
  CHECK(same_counts >= full.size() - only_full.size() - 2);
  bool saw_middleware = false;
  for (const auto& [k, n] : stripped) saw_middleware |= k.find("main.Logging.func1") != std::string::npos;
  CHECK(saw_middleware);
}
