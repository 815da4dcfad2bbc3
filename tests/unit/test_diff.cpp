// mwscope diff on Profiles built by hand: rates per request (or per second),
// the release gate, and the leak groups that appeared, grew or went away.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "profile_helpers.h"
#include "report/diff.h"

using namespace mws;

namespace {

Profile recording(uint64_t requests, double seconds, std::vector<std::pair<std::string, uint64_t>> objects_by_mw) {
  Profile p;
  p.meta.mode = "exact";
  p.meta.duration_s = seconds;
  p.requests.counted = requests > 0;
  p.requests.requests = requests;
  for (auto& [name, objects] : objects_by_mw) {
    MiddlewareRow r;
    r.name = name;
    r.objects = objects;
    r.bytes = objects * 64;
    p.middleware.push_back(r);
    p.stacks.push_back(test::make_stack(p, {Frame{name + ".func1", "mw.go", 10, false}}, objects, objects * 64, "", name));
  }
  return p;
}

const RateChange* find(const std::vector<RateChange>& v, const std::string& name) {
  for (const auto& c : v)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("diff: objects per request per middleware, and the gate on their growth", "[report][diff]") {
  const Profile before = recording(100, 10, {{"main.Logging", 300}, {"main.Auth", 500}, {"main.Old", 50}});
  const Profile after = recording(200, 5, {{"main.Logging", 1200}, {"main.Auth", 1000}, {"main.New", 20}});
  const ProfileDiff d = diff_profiles(before, after);
  REQUIRE(d.unit == DiffUnit::Request);
  const RateChange* logging = find(d.middleware, "main.Logging");
  REQUIRE(logging);
  CHECK(logging->objects_before == 3);
  CHECK(logging->objects_after == 6);
  CHECK(logging->bytes_after == 6 * 64);
  CHECK(logging->objects_change_pct() == 100);
  CHECK(find(d.middleware, "main.Auth")->objects_change_pct() == 0);  // 5 per request both times
  CHECK(std::isinf(find(d.middleware, "main.New")->objects_change_pct()));
  CHECK(find(d.middleware, "main.Old")->objects_change_pct() == -100);
  CHECK(d.middleware.front().name == "main.Logging");  // the most changed first

  // The gate: growth above the threshold, a new middleware always.
  CHECK(*grown_over(d, 50) == std::vector<std::string>{"main.Logging", "main.New"});
  CHECK(*grown_over(d, 100) == std::vector<std::string>{"main.New"});
  CHECK(describe_changes(d, *grown_over(d, 50)) == "main.Logging (+100.0%), main.New (new)");
  // A recording against itself changes nothing.
  CHECK(grown_over(diff_profiles(before, before), 0)->empty());

  const std::string text = render_diff_text(d, before, after, 10);
  CHECK(text.find("per request") != std::string::npos);
  CHECK(text.find("+100.0%") != std::string::npos);
  CHECK(text.find("new") != std::string::npos);
  CHECK(text.find("gone") != std::string::npos);
}

TEST_CASE("diff: without requests counted in both, rates per second and no gate", "[report][diff]") {
  const Profile before = recording(0, 10, {{"main.Logging", 300}});
  const Profile after = recording(100, 5, {{"main.Logging", 300}});
  const ProfileDiff d = diff_profiles(before, after);
  CHECK(d.unit == DiffUnit::Second);
  CHECK(find(d.middleware, "main.Logging")->objects_before == 30);
  CHECK(find(d.middleware, "main.Logging")->objects_after == 60);
  auto gate = grown_over(d, 10);
  REQUIRE_FALSE(gate.ok());
  CHECK(gate.error().message.find("requests were not counted") != std::string::npos);
  CHECK(render_diff_text(d, before, after, 10).find("per second of recording") != std::string::npos);
}

TEST_CASE("diff: leak groups that appeared, grew and went away", "[report][diff]") {
  Profile before = recording(10, 1, {}), after = recording(10, 1, {});
  auto group = [](Profile& p, const std::string& start, const std::string& parked, uint64_t leaked) {
    GoroutineGroup g;
    g.start_function = start;
    g.frame_ids = test::intern(p, {Frame{"runtime.gopark", "", 0, false}, Frame{parked, "", 0, false}});
    g.count = g.leaked = leaked;
    p.goroutines.groups.push_back(g);
  };
  before.goroutines.read = after.goroutines.read = true;
  group(before, "main.Watch.func1", "main.Watch.func1", 10);
  group(after, "main.Watch.func1", "main.Watch.func1", 25);
  group(before, "main.Old.func1", "main.Old.func1", 4);
  group(after, "main.New.func1", "main.New.func1", 7);
  const ProfileDiff d = diff_profiles(before, after);
  REQUIRE(d.leaks_known);
  REQUIRE(d.leaks.size() == 3);
  CHECK(d.leaks[0].start_function == "main.Watch.func1");  // most changed first: +15
  CHECK(d.leaks[0].leaked_before == 10);
  CHECK(d.leaks[0].leaked_after == 25);
  const std::string text = render_diff_text(d, before, after, 10);
  CHECK(text.find("grew") != std::string::npos);
  CHECK(text.find("appeared") != std::string::npos);
  CHECK(text.find("went away") != std::string::npos);
}
