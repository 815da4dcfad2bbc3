// The pprof writer, read back with the same messages (proto/pprof_profile.proto):
// what go tool pprof relies on, checked field by field. The integration test
// (test_pprof.cpp) has Debian's go tool pprof read real recordings.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "profile_helpers.h"
#include "proto/pprof_profile.pb.h"
#include "report/pprof.h"
#include "util/gzip.h"

using namespace mws;

namespace {

Frame fr(std::string function, uint32_t line, bool inlined = false) {
  return Frame{std::move(function), "/src/" + std::string("app.go"), line, inlined};
}

pprof::Profile decode(const std::string& gzipped) {
  REQUIRE(gzipped.substr(0, 2) == "\x1f\x8b");  // a gzip member, as pprof files are
  pprof::Profile out;
  REQUIRE(out.ParseFromString(gunzip(gzipped)));
  return out;
}

std::string str(const pprof::Profile& p, int64_t i) {
  REQUIRE(i >= 0);
  REQUIRE(i < p.string_table_size());
  return p.string_table(i);
}

// Each location of a sample as its functions, inlined first.
std::vector<std::vector<std::string>> stack_of(const pprof::Profile& p, const pprof::Sample& s) {
  std::map<uint64_t, const pprof::Location*> locations;
  std::map<uint64_t, const pprof::Function*> functions;
  for (const auto& l : p.location()) locations[l.id()] = &l;
  for (const auto& f : p.function()) functions[f.id()] = &f;
  std::vector<std::vector<std::string>> out;
  for (uint64_t id : s.location_id()) {
    REQUIRE(locations.count(id));
    std::vector<std::string> lines;
    for (const auto& line : locations[id]->line()) {
      REQUIRE(functions.count(line.function_id()));
      lines.push_back(str(p, functions[line.function_id()]->name()) + ":" + std::to_string(line.line()));
    }
    out.push_back(lines);
  }
  return out;
}

std::map<std::string, std::string> labels_of(const pprof::Profile& p, const pprof::Sample& s) {
  std::map<std::string, std::string> out;
  for (const auto& l : s.label()) out[str(p, l.key())] = str(p, l.str());
  return out;
}

}  // namespace

TEST_CASE("pprof heap: Go's sample types, inlined calls in their caller's location, the runtime's leaf hidden, "
          "a middleware label",
          "[report][pprof]") {
  Profile p;
  p.meta.mode = "sampled";
  p.meta.sample_rate = 4096;
  p.meta.heap_read = true;
  p.meta.started_unix_ns = 1'700'000'000'000'000'000;
  p.meta.duration_s = 2.5;
  // runtime.newobject <- main.auth (inlined into) main.Auth.func1 <- net/http.serve
  ProfileStack s = test::make_stack(
      p, {fr("runtime.newobject", 1), fr("main.auth", 10, true), fr("main.Auth.func1", 20), fr("net/http.serve", 30)},
      300, 9600, "[32]uint8", "main.Auth");
  s.inuse_objects = 40;
  s.inuse_bytes = 1280;
  p.stacks.push_back(s);
  // Held only (nothing allocated while recording), under no middleware.
  ProfileStack held = test::make_stack(p, {fr("main.cache", 5), fr("net/http.serve", 30)}, 0, 0, "", "(server)");
  held.inuse_objects = 7;
  held.inuse_bytes = 700;
  p.stacks.push_back(held);
  p.stacks.push_back(test::make_stack(p, {fr("main.idle", 1)}, 0, 0));  // nothing at all: no sample

  const pprof::Profile out = decode(render_pprof_heap(p));
  REQUIRE(out.string_table_size() > 0);
  CHECK(out.string_table(0) == "");
  std::vector<std::string> types;
  for (const auto& t : out.sample_type()) types.push_back(str(out, t.type()) + "/" + str(out, t.unit()));
  CHECK(types == std::vector<std::string>{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                                          "inuse_space/bytes"});
  CHECK(str(out, out.default_sample_type()) == "alloc_space");
  CHECK(out.period() == 4096);
  CHECK(str(out, out.period_type().type()) == "space");
  CHECK(out.time_nanos() == 1'700'000'000'000'000'000);
  CHECK(out.duration_nanos() == 2'500'000'000);
  REQUIRE(out.mapping_size() == 1);
  CHECK(out.mapping(0).has_functions());
  CHECK(out.mapping(0).has_inline_frames());

  REQUIRE(out.sample_size() == 2);
  const auto& a = out.sample(0);
  CHECK(std::vector<int64_t>(a.value().begin(), a.value().end()) == std::vector<int64_t>{300, 9600, 40, 1280});
  CHECK(stack_of(out, a) == std::vector<std::vector<std::string>>{{"main.auth:10", "main.Auth.func1:20"},
                                                                   {"net/http.serve:30"}});
  CHECK(labels_of(out, a) == std::map<std::string, std::string>{{"middleware", "main.Auth"}, {"type", "[32]uint8"}});
  const auto& b = out.sample(1);
  CHECK(std::vector<int64_t>(b.value().begin(), b.value().end()) == std::vector<int64_t>{0, 0, 7, 700});
  CHECK(labels_of(out, b) == std::map<std::string, std::string>{{"middleware", "(server)"}});
  // net/http.serve:30 is one location, shared.
  CHECK(a.location_id(a.location_id_size() - 1) == b.location_id(b.location_id_size() - 1));
}

TEST_CASE("pprof goroutines: one sample per verdict, with why and the middleware that started them, at the parked "
          "stack or else the creation stack",
          "[report][pprof]") {
  Profile p;
  p.goroutines.read = true;
  GoroutineGroup parked;
  parked.frame_ids = test::intern(p, {fr("runtime.gopark", 1), fr("main.Watch.func1", 2)});
  parked.creation_frame_ids = test::intern(p, {fr("main.Watch", 3)});
  parked.count = 10;
  parked.states = {{"chan receive", 8}, {"select", 2}};
  parked.leaked = 6;
  parked.leaked_unreachable = 2;
  parked.leaked_per_request = 6;
  parked.suspect = 1;
  parked.middleware = "main.Watch";
  GoroutineGroup loop;  // start-up, waiting by design
  loop.frame_ids = test::intern(p, {fr("runtime.gopark", 1), fr("main.loop", 5)});
  loop.count = 3;
  loop.long_lived = 3;
  loop.states = {{"select", 3}};
  loop.middleware = "(server)";
  GoroutineGroup running;  // no parked stack: its creation stack stands in
  running.creation_frame_ids = test::intern(p, {fr("main.spin", 4)});
  running.count = 1;
  running.states = {{"running", 1}};
  p.goroutines.groups = {parked, loop, running};

  const pprof::Profile out = decode(render_pprof_goroutines(p));
  REQUIRE(out.sample_type_size() == 1);
  CHECK(str(out, out.sample_type(0).type()) == "goroutine");
  std::map<std::string, int64_t> by_labels;
  for (const auto& s : out.sample()) {
    REQUIRE(s.value_size() == 1);
    auto l = labels_of(out, s);
    by_labels[l["verdict"] + "|" + l["why"] + "|" + l["leaked"] + "|" + l["state"] + "|" + l["middleware"] + "|" +
              l["stack"] + "|" + stack_of(out, s).front().front()] += s.value(0);
  }
  CHECK(by_labels ==
        std::map<std::string, int64_t>{
            {"leaked|unreachable+per request|true|chan receive|main.Watch|current|runtime.gopark:1", 6},
            {"suspect||false|chan receive|main.Watch|current|runtime.gopark:1", 1},
            {"none||false|chan receive|main.Watch|current|runtime.gopark:1", 3},
            {"long-lived||false|select|(server)|current|runtime.gopark:1", 3},
            {"none||false|running||creation|main.spin:4", 1}});
}
