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
  uint64_t nested_objects = 0, nested_bytes = 0;  // made inside another allocation (GC assist)
};

// runtime.MemProfile per innermost main.* function (every allocation: rate
// 1), and the requests per route the fixture had finished when it read it.
struct RuntimeCounts {
  std::map<std::string, Counts> functions;
  uint64_t work_requests = 0, health_requests = 0;
};

RuntimeCounts runtime_counts(int port) {
  auto body = http_get(port, "/debug/allocs");
  REQUIRE(body);
  const json doc = json::parse(*body);
  REQUIRE(doc.at("memprofilerate") == 1);
  RuntimeCounts out;
  for (auto& [fn, c] : doc.at("functions").items())
    out.functions[fn] = {c.at("objects"), c.at("bytes"), c.at("nested_objects"), c.at("nested_bytes")};
  out.work_requests = doc.at("work_requests");
  out.health_requests = doc.at("health_requests");
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
  for (auto& [fn, c] : after.functions)
    if (c.objects > before.functions[fn].objects && fn.find("debug") == std::string::npos &&
        fn.find("Debug") == std::string::npos)
      compared.insert(fn);
  REQUIRE(compared.size() >= 4);
  const uint64_t work = after.work_requests - before.work_requests;
  const uint64_t health = after.health_requests - before.health_requests;
  REQUIRE(work + health == uint64_t(requests));

  for (const auto& fn : compared) {
    const Counts& a = after.functions[fn];
    const Counts& b = before.functions[fn];
    const uint64_t truth = a.objects - b.objects, truth_bytes = a.bytes - b.bytes;
    const uint64_t nested = a.nested_objects - b.nested_objects;
    // What the construction states exactly: objects per request on its
    // route, each of a size that is a Go size class (requested = class).
    uint64_t own = 0, own_bytes = 0;
    if (construction.contains(fn)) {
      const json& c = construction.at(fn);
      const auto& routes = c.at("routes");
      const uint64_t route_requests =
          std::find(routes.begin(), routes.end(), "/work") != routes.end() ? work : health;
      own = c.at("objects_per_request").get<uint64_t>() * route_requests;
      own_bytes = own * c.at("bytes_per_object").get<uint64_t>();
    }
    INFO(fn << ": runtime " << truth << " objects (" << nested << " nested) / " << truth_bytes
            << " B, construction " << own << " / " << own_bytes << " B, mwscope " << ours[fn].objects << " / "
            << ours[fn].bytes << " B");
    REQUIRE(truth > 0);
    // Every allocation the runtime recorded, none lost, none invented.
    CHECK(ours[fn].objects == truth);
    // The construction itself, on the runtime's word (a check of the
    // fixture): its own objects plus those the runtime made inside them.
    // main.RequestID.func1 also has the stdlib's (context.WithValue,
    // r.WithContext), counted by each Go version's own code.
    if (construction.contains(fn)) {
      if (fn == "main.RequestID.func1") CHECK(truth - nested >= own);
      else CHECK(truth - nested == own);
    }
    // Bytes: mwscope counts what was requested, the runtime the size class.
    // The construction's own objects are exact classes, so those bytes are
    // exact. The others (GC-assist sudogs, the stdlib's http.Request) are
    // not sized by the fixture: each requested size is at most its class,
    // and more than half of it (every Go size class is less than twice the
    // one below it). That bound is the tolerance, and only for them.
    CHECK(ours[fn].bytes <= truth_bytes);
    REQUIRE(truth_bytes >= own_bytes);
    CHECK(ours[fn].bytes >= own_bytes + (truth_bytes - own_bytes + 1) / 2);
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

  {  // folded output: root first, leaf last, integer weights; per innermost
     // main.* frame the runtime's own count, and in all the JSON's total
     // (a self-comparison)
    std::istringstream in(read_file(folded_path));
    std::string line;
    uint64_t sum = 0;
    size_t lines = 0;
    std::map<std::string, uint64_t> folded;
    const std::regex shape(R"(^[^ ;]+(;[^;]+)* \d+$)");
    while (std::getline(in, line)) {
      INFO(line);
      REQUIRE(std::regex_match(line, shape));
      const uint64_t weight = std::stoull(line.substr(line.rfind(' ') + 1));
      sum += weight;
      lines++;
      if (line.find("main.Logging") != std::string::npos)
        CHECK(line.find("net/http.(*conn).serve") < line.find("main.Logging"));
      std::string innermost;  // the last main.* frame, the leaf being last
      std::istringstream frames(line.substr(0, line.rfind(' ')));
      for (std::string f; std::getline(frames, f, ';');)
        if (f.rfind("main.", 0) == 0) innermost = f;
      if (!innermost.empty()) folded[innermost] += weight;
    }
    CHECK(lines > 0);
    for (const auto& fn : compared) {
      INFO("folded " << fn);
      CHECK(folded[fn] == after.functions[fn].objects - before.functions[fn].objects);
    }
    CHECK(sum == profile.at("totals").at("objects").get<uint64_t>());
  }

  {  // the text report (stdout): each middleware row's objects, as the
     // runtime counted them for that middleware's functions
    std::map<std::string, uint64_t> truth;
    for (auto& [fn, c] : construction.items())
      truth[c.at("middleware").get<std::string>()] += after.functions[fn].objects - before.functions[fn].objects;
    // Its table "Allocations by middleware": "  2  main.workHandler  7.00
    // 896 B  25.3%  2,100  262.5 KiB  0": rank, name, per request, share,
    // then the objects.
    std::map<std::string, uint64_t> shown;
    {
      std::istringstream text(mw.stdout_text());
      bool in_table = false;
      for (std::string line; std::getline(text, line);) {
        if (line.rfind("Allocations by middleware", 0) == 0) in_table = true;
        else if (in_table && line.empty()) break;
        if (!in_table) continue;
        std::istringstream fields(line);
        std::vector<std::string> words{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
        auto share = std::find_if(words.begin(), words.end(), [](const std::string& w) { return w.ends_with('%'); });
        if (words.size() < 3 || share == words.end() || share + 1 == words.end()) continue;
        std::string figure = *(share + 1);
        figure.erase(std::remove(figure.begin(), figure.end(), ','), figure.end());
        if (!figure.empty() && std::all_of(figure.begin(), figure.end(), ::isdigit)) shown[words[1]] = std::stoull(figure);
      }
    }
    for (const auto& [name, objects] : truth) {
      INFO("text report row " << name << "\n" << mw.stdout_text().substr(0, 6000));
      REQUIRE(shown.count(name));
      CHECK(shown[name] == objects);
    }
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
    const uint64_t truth = after.functions[fn].objects - before.functions[fn].objects;
    INFO(fixture_name << " " << fn << ": runtime " << truth << " objects, mwscope " << ours[fn].objects);
    CHECK(truth > 0);
    CHECK(ours[fn].objects == truth);  // every allocation, none lost, none invented
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

TEST_CASE("a stripped build gives the same symbolized stacks as the unstripped one (two recordings compared, each "
          "counted against its runtime)",
          "[bpf][stripped]") {
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
