// Exact mode against the truth: the fixture runs with MemProfileRate = 1,
// so runtime.MemProfile records every allocation; per fixture function
// (innermost main.* frame), mwscope must count the same objects.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <algorithm>
#include <iterator>
#include <set>
#include <sstream>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct Counts {
  uint64_t objects = 0, bytes = 0;
};

// runtime.MemProfile per innermost main.* function (every allocation: rate 1).
std::map<std::string, Counts> runtime_counts(int port) {
  std::map<std::string, Counts> out;
  for (const auto& [fn, c] : runtime_allocs(port, 1)) out[fn] = {uint64_t(c.objects), uint64_t(c.bytes)};
  return out;
}

// Per innermost main.* frame of every stack, like the fixture's own truth.
std::map<std::string, Counts> mwscope_counts(const json& profile) {
  std::map<std::string, Counts> out;
  for (const auto& s : profile.at("stacks"))
    if (std::string fn = innermost_main(s); !fn.empty()) {
      out[fn].objects += s.at("objects").get<uint64_t>();
      out[fn].bytes += s.at("bytes").get<uint64_t>();
    }
  return out;
}


}  // namespace

void mws::test::check_exact_counts(const std::string& allocserver) {
  Server server = start_server(allocserver);
  const std::string json_path = temp_path("exact.json"), folded_path = temp_path("exact.folded");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--folded", folded_path, "--weight", "objects", "--mode", "exact"});
  auto attached = mw.wait_stderr_line("attached", seconds(30));
  INFO(mw.stderr_text());
  REQUIRE(attached);

  auto construction = json::parse(*http_get(server.port, "/debug/construction")).at("functions");
  auto before = runtime_counts(server.port);
  const int requests = 1500;
  send_load(server.port, "/work,/health", requests);
  auto after = runtime_counts(server.port);

  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  REQUIRE(server.child.running());  // the target survived attach and detach

  json profile = read_profile_json(json_path);
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

  {  // stacks are symbolized through net/http with file:line
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

  {  // folded output: root first, leaf last, integer weights summing to the total
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

TEST_CASE("exact mode counts every allocation per function, as the Go runtime does", "[bpf][exact]") {
  check_exact_counts("allocserver");
}

namespace {

// One exact-mode recording of `requests` /work and /health requests against
// a fresh `fixture_name` server, checked against that server's own runtime
// (per function, as check_exact_counts does), and its stacks reduced to
// what is deterministic by construction: for each stack whose innermost
// main.* frame is a construction function, the frames from that frame to
// the root (the runtime part below it varies with GC timing: assists,
// sudogs). Returns those root parts.
std::set<std::string> main_root_parts(const std::string& fixture_name, int requests) {
  Server server = start_server(fixture_name);
  const auto construction = json::parse(*http_get(server.port, "/debug/construction")).at("functions");
  const std::string json_path = temp_path(fixture_name + ".json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--mode", "exact", "--no-goroutines"});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  auto before = runtime_counts(server.port);
  send_load(server.port, "/work,/health", requests);
  auto after = runtime_counts(server.port);
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  json profile = read_profile_json(json_path);
  CHECK(profile.at("meta").at("dropped_events").get<uint64_t>() == 0);

  auto ours = mwscope_counts(profile);
  std::set<std::string> parts;
  for (auto& [fn, _] : construction.items()) {
    const uint64_t truth = after[fn].objects - before[fn].objects;
    INFO(fixture_name << " " << fn << ": runtime " << truth << " objects, mwscope " << ours[fn].objects);
    CHECK(truth > 0);
    CHECK(std::fabs(double(ours[fn].objects) - double(truth)) <= 0.01 * double(truth));
  }
  for (const auto& s : profile.at("stacks")) {
    const auto& frames = s.at("frames");
    size_t k = 0;
    while (k < frames.size() && frames[k].at("function").get<std::string>().rfind("main.", 0) != 0) k++;
    if (k == frames.size() || !construction.contains(frames[k].at("function").get<std::string>())) continue;
    std::string key;
    for (; k < frames.size(); k++) key += frames[k].dump() + "\n";
    parts.insert(key);
  }
  return parts;
}

}  // namespace

TEST_CASE("a stripped build gives the same symbolized stacks as the unstripped one", "[bpf][stripped]") {
  const int requests = 400;
  auto full = main_root_parts("allocserver", requests);
  auto stripped = main_root_parts("allocserver_stripped", requests);
  // Every construction function has at least one stack, and the stripped
  // build shows the same functions, files, lines and inlined frames from
  // the allocating main.* frame to the root, stack for stack.
  REQUIRE(full.size() >= 6);
  std::vector<std::string> only_full, only_stripped;
  std::set_difference(full.begin(), full.end(), stripped.begin(), stripped.end(), std::back_inserter(only_full));
  std::set_difference(stripped.begin(), stripped.end(), full.begin(), full.end(), std::back_inserter(only_stripped));
  INFO("only in the unstripped run: " << (only_full.empty() ? "" : only_full.front()));
  INFO("only in the stripped run: " << (only_stripped.empty() ? "" : only_stripped.front()));
  CHECK(only_full.empty());
  CHECK(only_stripped.empty());
}
