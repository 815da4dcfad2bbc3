// Reporters: folded, JSON, text, and the file writer. Profiles are built by
// hand; expected values are computed from the Profile by construction.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/profile.h"
#include "report/folded.h"
#include "report/json.h"
#include "report/live.h"
#include "report/reporter.h"
#include "report/text.h"
#include "report/weight.h"
#include "profile_helpers.h"

using namespace mws;

namespace {

Frame fr(std::string function, std::string file = "", uint32_t line = 0, bool inlined = false) {
  return Frame{std::move(function), std::move(file), line, inlined};
}

ProfileStack st(Profile& p, const std::vector<Frame>& frames_leaf_first, uint64_t objects, uint64_t bytes) {
  return test::make_stack(p, frames_leaf_first, objects, bytes);
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Every line of a text report fits kTextWidth columns (one per code point).
void check_fits(const std::string& out) {
  for (const auto& line : lines_of(out)) {
    size_t cols = 0;
    for (char c : line) cols += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    INFO(line);
    CHECK(cols <= kTextWidth);
  }
}

// Splits a folded line the way flamegraph.pl/inferno/speedscope do: at the
// last space into stack and count, the stack at every ';'.
struct FoldedLine {
  std::vector<std::string> frames;
  uint64_t count = 0;
};
FoldedLine parse_folded_line(const std::string& line) {
  const auto sp = line.rfind(' ');
  REQUIRE(sp != std::string::npos);
  const std::string count = line.substr(sp + 1);
  REQUIRE(!count.empty());
  REQUIRE(std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; }));
  FoldedLine out;
  out.count = std::stoull(count);
  std::string stack = line.substr(0, sp);
  size_t start = 0;
  for (;;) {
    const auto semi = stack.find(';', start);
    out.frames.push_back(stack.substr(start, semi - start));
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  return out;
}

Profile http_profile() {
  Profile p;
  p.meta.tool_version = "0.1.0";
  p.meta.pid = 4242;
  p.meta.executable = "/srv/api/bin/api-server";
  p.meta.go_version = "go1.22.3";
  p.meta.mode = "exact";
  p.meta.started_unix_ns = 1714533164000000000ULL;  // 2024-05-01 03:12:44 UTC
  p.meta.duration_s = 10.0;
  p.meta.probes_attached = 2;
  p.meta.events = 1310;
  p.meta.dropped_events = 0;
  const Frame serve = fr("net/http.(*conn).serve", "/usr/local/go/src/net/http/server.go", 2039);
  const Frame handler_func =
      fr("net/http.HandlerFunc.ServeHTTP", "/usr/local/go/src/net/http/server.go", 2166);
  const Frame logging = fr("main.Logging.func1", "/src/app/middleware/logging.go", 42);
  const Frame auth = fr("main.Auth.func1", "/src/app/middleware/auth.go", 17);
  const Frame mallocgc = fr("runtime.mallocgc", "/usr/local/go/src/runtime/malloc.go", 1015);
  const Frame newobject = fr("runtime.newobject", "/usr/local/go/src/runtime/malloc.go", 1254);
  const Frame makeslice = fr("runtime.makeslice", "/usr/local/go/src/runtime/slice.go", 103);
  p.stacks = {
      // site main.Logging.func1:42 via two different runtime entries
      st(p, {mallocgc, newobject, logging, handler_func, serve}, 1000, 64000),
      st(p, {mallocgc, makeslice, logging, handler_func, auth, handler_func, serve}, 200, 16000),
      // site main.Auth.func1:17
      st(p, {mallocgc, newobject, auth, handler_func, serve}, 100, 19200),
      // runtime allocating for itself: the leaf stays the site
      st(p, {mallocgc, fr("runtime.malg", "/usr/local/go/src/runtime/proc.go", 4500),
          fr("runtime.newproc1", "/usr/local/go/src/runtime/proc.go", 4800)},
         10, 800),
  };
  return p;
}

// http_profile() as recorded in sampled mode at MemProfileRate 4096:
// objects/bytes are the scaled estimates, the raw samples beside them.
// The heap profile read at both ends: Auth's stack holds nothing at the end,
// having let go of 7.5 KiB it held at attach.
Profile sampled_profile() {
  Profile p = http_profile();
  p.meta.mode = "sampled";
  p.meta.sample_rate = 4096;
  p.meta.heap_read = true;
  p.meta.heap_profile_rate = 4096;
  p.meta.gc_cycles = 3;
  p.meta.duration_s = 30.0;
  auto sample = [](ProfileStack& s, uint64_t samples, uint64_t freed, int64_t inuse_objects, int64_t inuse_bytes,
                   int64_t change_bytes) {
    s.samples = samples;
    s.sample_bytes = samples * (s.bytes / std::max<uint64_t>(s.objects, 1));
    s.freed_samples = freed;
    s.freed_sample_bytes = freed * 64;
    s.inuse_samples = static_cast<int64_t>(samples) - static_cast<int64_t>(freed);
    s.inuse_sample_bytes = s.inuse_samples * 64;
    s.inuse_objects = inuse_objects;
    s.inuse_bytes = inuse_bytes;
    s.inuse_change_bytes = change_bytes;
  };
  sample(p.stacks[0], 16, 4, 750, 48000, 40000);
  sample(p.stacks[1], 4, 0, 200, 16000, 16000);
  sample(p.stacks[2], 5, 7, 0, 0, -7680);
  sample(p.stacks[3], 1, 0, 10, 800, 0);
  return p;
}

// Middleware rows as attribution fills them for sampled_profile().
void add_sampled_middleware(Profile& p) {
  p.middleware = {
      MiddlewareRow{.name = "main.Logging", .objects = 1200, .bytes = 80000, .samples = 20, .inuse_objects = 950,
                    .inuse_bytes = 64000, .inuse_change_bytes = 56000, .inuse_bytes_per_min = 1.2 * 1024 * 1024,
                    .top_sites = {NamedCount{"main.Logging.func1 logging.go:42", 1200, 80000, 64000}}},
      MiddlewareRow{.name = "main.Auth", .objects = 100, .bytes = 19200, .samples = 5, .inuse_objects = 0,
                    .inuse_bytes = 0, .inuse_change_bytes = -7680, .inuse_bytes_per_min = -15360}};
}

}  // namespace

// ---------------------------------------------------------------- weight

TEST_CASE("weight parses its seven names and nothing else", "[report]") {
  REQUIRE(parse_weight("bytes").ok());
  CHECK(*parse_weight("bytes") == Weight::Bytes);
  CHECK(*parse_weight("objects") == Weight::Objects);
  CHECK(*parse_weight("samples") == Weight::Samples);
  CHECK(*parse_weight("inuse-bytes") == Weight::InuseBytes);
  CHECK(*parse_weight("inuse-objects") == Weight::InuseObjects);
  CHECK(*parse_weight("c-bytes") == Weight::CBytes);
  CHECK(*parse_weight("c-inuse-bytes") == Weight::CInuseBytes);
  for (Weight w : {Weight::Bytes, Weight::Objects, Weight::Samples, Weight::InuseBytes, Weight::InuseObjects,
                   Weight::CBytes, Weight::CInuseBytes}) {
    CHECK(*parse_weight(name(w)) == w);
  }
  auto bad = parse_weight("allocs");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("allocs") != std::string::npos);
  CHECK(bad.error().message.find("inuse-bytes") != std::string::npos);
  CHECK_FALSE(parse_weight("inuse_bytes").ok());
}

TEST_CASE("weight: samples need a sampled-mode profile, in-use a heap reading", "[report]") {
  Profile exact = http_profile();
  const Profile sampled = sampled_profile();
  exact.meta.heap_problem = "runtime.mbuckets not found";
  for (Weight w : {Weight::Samples, Weight::InuseBytes, Weight::InuseObjects}) {
    const Status st = check_weight(exact, w);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find('\n') == std::string::npos);
    CHECK(st.error().message.find(w == Weight::Samples ? "needs a sampled-mode profile"
                                                       : "the heap in use is unknown for this profile (runtime.mbuckets") !=
          std::string::npos);
    CHECK(check_weight(sampled, w).ok());
  }
  exact.meta.heap_read = true;  // exact mode reads the heap too
  CHECK(check_weight(exact, Weight::InuseBytes).ok());
  CHECK(check_weight(exact, Weight::Samples).error().message.find("recorded with --mode exact") !=
        std::string::npos);
  for (Weight w : {Weight::Bytes, Weight::Objects}) {
    CHECK(check_weight(exact, w).ok());
    CHECK(check_weight(sampled, w).ok());
  }
}

TEST_CASE("weight: negative in-use weighs 0, samples are raw", "[report]") {
  const Profile p = sampled_profile();
  CHECK(weight_of(p.stacks[2], Weight::InuseBytes) == 0);
  CHECK(weight_of(p.stacks[2], Weight::InuseObjects) == 0);
  CHECK(weight_of(p.stacks[0], Weight::InuseBytes) == 48000);
  CHECK(weight_of(p.stacks[0], Weight::Samples) == 16);
  CHECK(total_weight(p, Weight::InuseBytes) == 48000 + 16000 + 800);
  CHECK(total_weight(p, Weight::InuseObjects) == 750 + 200 + 10);
  CHECK(total_weight(p, Weight::Samples) == 16 + 4 + 5 + 1);
  CHECK(total_weight(http_profile(), Weight::Samples) == 0);
}

TEST_CASE("total_weight saturates instead of wrapping", "[report]") {
  Profile p;
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  p.stacks = {st(p, {fr("a")}, max - 1, 1), st(p, {fr("b")}, 5, 2)};
  CHECK(total_weight(p, Weight::Objects) == max);
  CHECK(total_weight(p, Weight::Bytes) == 3);
}

// ---------------------------------------------------------------- folded

TEST_CASE("folded: frames root first, leaf last, weight after one space", "[report]") {
  Profile p;
  p.stacks = {st(p, {fr("main.alloc", "a.go", 3), fr("main.Logging.func1"),
                  fr("net/http.HandlerFunc.ServeHTTP"), fr("net/http.(*conn).serve")},
                 3, 96)};
  CHECK(render_folded(p, Weight::Bytes) ==
        "net/http.(*conn).serve;net/http.HandlerFunc.ServeHTTP;main.Logging.func1;main.alloc 96\n");
  CHECK(render_folded(p, Weight::Objects) ==
        "net/http.(*conn).serve;net/http.HandlerFunc.ServeHTTP;main.Logging.func1;main.alloc 3\n");
}

// A creation chain is spliced in only where it carries attribution: the
// work a middleware's goroutines did stands under its go statement; a
// goroutine nobody's middleware started starts at its own entry, as in
// pprof, not under the accept loop's tall stem.
TEST_CASE("folded: creation chains spliced in only where a middleware started the goroutine", "[report]") {
  Profile p;
  SpawnChain by_middleware;
  by_middleware.creation_stacks = {test::intern(p, {fr("main.FanOut.func1"), fr("net/http.(*conn).serve")})};
  by_middleware.middleware = "main.FanOut";
  SpawnChain accept_loop;  // net/http's own: no middleware
  accept_loop.creation_stacks = {test::intern(p, {fr("net/http.(*Server).Serve"), fr("main.main")})};
  p.spawn_chains = {by_middleware, accept_loop};
  ProfileStack s = st(p, {fr("main.work"), fr("runtime.goexit")}, 10, 100);
  s.spawned_by = {{.chain = 0, .objects = 6, .bytes = 60}, {.chain = 1, .objects = 3, .bytes = 30}};
  p.stacks = {s};
  CHECK(render_folded(p, Weight::Objects) ==
        "net/http.(*conn).serve;main.FanOut.func1;[go statement];runtime.goexit;main.work 6\n"
        "runtime.goexit;main.work 4\n");
}

TEST_CASE("folded: stacks identical after rendering are merged, sums kept", "[report]") {
  Profile p;
  // Same functions, different file:line and inlining: one folded line.
  p.stacks = {st(p, {fr("main.a", "x.go", 1), fr("main.main", "m.go", 10)}, 2, 20),
              st(p, {fr("main.a", "x.go", 2, true), fr("main.main", "m.go", 11)}, 3, 30),
              st(p, {fr("main.b"), fr("main.main")}, 7, 70)};
  const std::string out = render_folded(p, Weight::Bytes);
  CHECK(out == "main.main;main.a 50\nmain.main;main.b 70\n");

  for (Weight w : {Weight::Bytes, Weight::Objects}) {
    const auto lines = lines_of(render_folded(p, w));
    uint64_t sum = 0;
    for (const auto& l : lines) sum += parse_folded_line(l).count;
    CHECK(sum == total_weight(p, w));
  }
}

TEST_CASE("folded: zero-weight lines are left out, per weight", "[report]") {
  Profile p;
  p.stacks = {st(p, {fr("main.zero_bytes")}, 4, 0), st(p, {fr("main.both")}, 1, 8),
              st(p, {fr("main.nothing")}, 0, 0)};
  CHECK(render_folded(p, Weight::Bytes) == "main.both 8\n");
  CHECK(render_folded(p, Weight::Objects) == "main.both 1\nmain.zero_bytes 4\n");
  CHECK(render_folded(Profile{}, Weight::Bytes).empty());
}

TEST_CASE("folded: lines are sorted by text whatever the input order", "[report]") {
  Profile p = http_profile();
  p.stacks.push_back(st(p, {fr("zz.last"), fr("aa.first")}, 1, 1));
  p.stacks.push_back(st(p, {}, 2, 2));
  const std::string a = render_folded(p, Weight::Bytes);
  auto lines = lines_of(a);
  CHECK(std::is_sorted(lines.begin(), lines.end()));
  CHECK(lines.size() == p.stacks.size());
  std::reverse(p.stacks.begin(), p.stacks.end());
  CHECK(render_folded(p, Weight::Bytes) == a);
}

TEST_CASE("folded: names are sanitized so every line still parses", "[report]") {
  Profile p;
  const std::vector<Frame> frames = {
      fr("main.semi;colon"),                  // ';' would split the frame
      fr("main.new\nline\r"),                 // newline would end the line
      fr(""),                                 // empty name
      fr("main.tab\there\x01"),               // other control characters
      fr("main.bad\xff\xc3utf8"),             // invalid UTF-8 (inferno reads UTF-8)
      fr("main.héllo.世界"),                  // valid UTF-8 is kept
      fr("main.(*T).with space [generic]"),   // spaces are harmless
  };
  p.stacks = {st(p, frames, 1, 123), st(p, {}, 4, 5)};
  const std::string out = render_folded(p, Weight::Bytes);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == 2);
  CHECK(std::count(out.begin(), out.end(), '\n') == 2);

  CHECK(lines[0] == "[no stack] 5");
  const FoldedLine l = parse_folded_line(lines[1]);
  CHECK(l.count == 123);
  REQUIRE(l.frames.size() == frames.size());
  // root first: frames reversed
  CHECK(l.frames[0] == "main.(*T).with space [generic]");
  CHECK(l.frames[1] == "main.héllo.世界");
  CHECK(l.frames[2] == "main.bad??utf8");
  CHECK(l.frames[3] == "main.tab?here?");
  CHECK(l.frames[4] == "[unknown]");
  CHECK(l.frames[5] == "main.new?line?");
  CHECK(l.frames[6] == "main.semi:colon");
  CHECK(folded_frame_name("   ") == "[unknown]");
}

TEST_CASE("folded: sampled weights stay pure folded lines", "[report]") {
  const Profile p = sampled_profile();
  const auto samples = lines_of(render_folded(p, Weight::Samples));
  REQUIRE(samples.size() == 4);
  uint64_t sum = 0;
  for (const auto& l : samples) sum += parse_folded_line(l).count;
  CHECK(sum == 26);
  CHECK(render_folded(p, Weight::Samples).find(
            "net/http.(*conn).serve;net/http.HandlerFunc.ServeHTTP;main.Auth.func1;runtime.newobject;runtime.mallocgc 5\n") !=
        std::string::npos);
  // Auth's in-use is negative: left out, like any zero weight.
  const std::string inuse = render_folded(p, Weight::InuseBytes);
  CHECK(inuse.find("main.Auth.func1;runtime.newobject") == std::string::npos);
  for (const auto& l : lines_of(inuse)) CHECK(parse_folded_line(l).count > 0);
  CHECK(lines_of(inuse).size() == 3);
}

TEST_CASE("folded: describe_folded says the mode and what the numbers are", "[report]") {
  Profile exact = http_profile();
  exact.meta.heap_read = true;
  exact.meta.heap_profile_rate = 1;
  Profile sampled = sampled_profile();
  CHECK(describe_folded(exact, Weight::Bytes) == "exact mode, bytes");
  CHECK(describe_folded(exact, Weight::Objects) == "exact mode, objects");
  CHECK(describe_folded(sampled, Weight::Bytes) == "sampled mode (MemProfileRate 4096), estimated bytes");
  CHECK(describe_folded(sampled, Weight::Objects) == "sampled mode (MemProfileRate 4096), estimated objects");
  CHECK(describe_folded(sampled, Weight::Samples) == "sampled mode (MemProfileRate 4096), raw samples");
  CHECK(describe_folded(sampled, Weight::InuseBytes) ==
        "heap in use as of the last GC before the end, in bytes (the runtime's profile, MemProfileRate 4096, "
        "estimates scaled like pprof)");
  CHECK(describe_folded(exact, Weight::InuseObjects) ==
        "heap in use as of the last GC before the end, in objects (the runtime's profile, MemProfileRate 1)");
  CHECK(describe_folded(Profile{}, Weight::Bytes) == "mode unknown, bytes");
}

// ---------------------------------------------------------------- JSON

TEST_CASE("no allocation recorded: every output says so and why, none pretends to zero", "[report]") {
  Profile p;
  p.meta.mode = "sampled";
  p.meta.duration_s = 2;
  p.meta.allocations_tracked = false;
  p.meta.allocations_unavailable = "the target's runtime.MemProfileRate is 0, so ...";
  p.meta.heap_read = true;  // read, but the runtime keeps nothing while its sampler is off
  const std::string text = render_text(p, Weight::Bytes, 10);
  CHECK(text.find("Allocations: not recorded: the target's runtime.MemProfileRate is 0") != std::string::npos);
  CHECK(text.find("allocations      not recorded") != std::string::npos);
  CHECK(text.find("objects/s") == std::string::npos);  // no rate of nothing
  CHECK(text.find("est. 0 objects") == std::string::npos);
  CHECK(describe_folded(p, Weight::Bytes).rfind("empty: no allocation was recorded; the report says why", 0) == 0);
  CHECK(describe_folded(p, Weight::InuseBytes).rfind("empty: the runtime's heap profile holds nothing", 0) == 0);
  auto back = parse_profile_json(render_json(p));
  REQUIRE(back.ok());
  CHECK(back->meta.allocations_unavailable == p.meta.allocations_unavailable);

  p.meta.allocations_unavailable = "not requested (--no-allocs)";
  CHECK(describe_folded(p, Weight::Objects) == "empty: no allocation was recorded (--no-allocs)");
}

TEST_CASE("json: round-trips exactly, odd names and extreme values included", "[report]") {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  Profile p = http_profile();
  p.meta.pid = std::numeric_limits<int32_t>::min();
  p.meta.executable = "/tmp/we\"ird\\path/ser ver\n";
  p.meta.go_version = "";
  p.meta.started_unix_ns = max;
  p.meta.duration_s = 0.1;  // not exact in binary: must still round-trip
  p.meta.probes_attached = std::numeric_limits<uint32_t>::max();
  p.meta.events = max - 1;
  p.meta.dropped_events = (uint64_t{1} << 63) + 1;
  p.meta.stack_errors = 1;
  p.meta.truncated_stacks = 9007199254740993ULL;  // 2^53 + 1: breaks if read as double
  p.stacks.push_back(st(p, {fr(std::string("nul\0inside", 10), "f\tile.go",
                            std::numeric_limits<uint32_t>::max(), true),
                         fr("quote\" back\\slash; semi \x01 ctl é 世界 🔥", "", 0, false)},
                        max, max - 2));
  p.stacks.push_back(st(p, {}, 0, 0));

  const std::string text = render_json(p);
  CHECK(text.find("\"schema\": \"mwscope.profile/3\"") != std::string::npos);
  CHECK(text.back() == '\n');
  auto back = parse_profile_json(text);
  REQUIRE(back.ok());
  CHECK(*back == p);
  CHECK(render_json(*back) == text);

  p.meta.duration_s = 12345.678901234567;
  auto again = parse_profile_json(render_json(p));
  REQUIRE(again.ok());
  CHECK(again->meta.duration_s == p.meta.duration_s);

  auto empty = parse_profile_json(render_json(Profile{}));
  REQUIRE(empty.ok());
  CHECK(*empty == Profile{});
}

TEST_CASE("json and folded: the C heap round-trips and weighs by its own stacks", "[report]") {
  Profile p = http_profile();
  CHECK_FALSE(check_weight(p, Weight::CBytes).ok());  // recorded without --c-heap
  CHeapSummary& c = p.c_heap;
  c.recorded = true;
  c.libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  c.allocs = 3;
  c.bytes = 3000;
  c.inuse_objects = 2;
  c.inuse_bytes = 2000;
  c.frees_before_attach = 7;
  c.chunk_bytes_freed_before_attach = 7 * 1024;
  ProfileStack s = st(p, {fr("malloc", "", 0, false), fr("leak_block", "", 0, false), fr("main.CLeak.func1", "m.go", 9, false)}, 0, 0);
  c.stacks.push_back(CHeapStack{s.frame_ids, "main.CLeak", 3, 3000, 1, 1000, 2, 2000, 4.5});
  c.middleware.push_back(CHeapMiddlewareRow{"main.CLeak", 3, 3000, 2, 2000});
  REQUIRE(check_weight(p, Weight::CBytes).ok());

  auto back = parse_profile_json(render_json(p));
  REQUIRE(back.ok());
  CHECK(back->c_heap == p.c_heap);
  CHECK(*back == p);
  CHECK(render_folded(p, Weight::CInuseBytes, false) == "main.CLeak.func1;leak_block;malloc 2000\n");
  CHECK(render_folded(p, Weight::CBytes, true) == "main.CLeak;main.CLeak.func1;leak_block;malloc 3000\n");
  const std::string text = render_text(p, Weight::CInuseBytes, 5);
  CHECK(text.find("still allocated at the end: 2 blocks, 2.0 KiB") != std::string::npos);
  CHECK(text.find("allocated before attach (not charged to any stack): 7 blocks") != std::string::npos);
}

TEST_CASE("json: round-trips a sampled profile, negative and extreme in-use included", "[report]") {
  Profile p = sampled_profile();
  p.meta.unattributed_free_samples = 3;
  p.meta.unattributed_free_bytes = 192;
  p.stacks[0].inuse_change_bytes = std::numeric_limits<int64_t>::min();
  p.stacks[1].inuse_objects = std::numeric_limits<int64_t>::max();
  p.meta.heap_unreadable_buckets = 2;
  p.stacks[0].type = "[]uint8";
  p.middleware.push_back(MiddlewareRow{.name = "main.Auth",
                                       .objects = 100,
                                       .bytes = 19200,
                                       .samples = 5,
                                       .inuse_objects = -40,
                                       .inuse_bytes = -7680,
                                       .inuse_bytes_per_min = -15360.5,
                                       .top_sites = {NamedCount{"main.Auth.func1 auth.go:17", 100, 19200, -7680}}});
  const std::string text = render_json(p);
  auto back = parse_profile_json(text);
  REQUIRE(back.ok());
  CHECK(*back == p);
  CHECK(back->stacks[0].inuse_change_bytes == std::numeric_limits<int64_t>::min());
  CHECK(back->middleware[0].top_sites[0].inuse_bytes == -7680);
  CHECK(render_json(*back) == text);
  const nlohmann::json j = nlohmann::json::parse(text);
  CHECK(j["meta"]["sample_rate"] == 4096);
  CHECK(j["meta"]["gc_cycles"] == 3);
  CHECK(j["meta"]["heap_read"] == true);
  CHECK(j["stacks"][2]["inuse_change_bytes"] == -7680);
  CHECK(j["totals"]["samples"] == 26);
}

TEST_CASE("json: schema 2 profiles read, without their in-use figures (a change between GCs then)", "[report]") {
  Profile p = sampled_profile();
  add_sampled_middleware(p);
  nlohmann::json j = nlohmann::json::parse(render_json(p));
  j["schema"] = "mwscope.profile/2";
  auto back = parse_profile_json(j.dump(), "v2.json");
  REQUIRE(back.ok());
  CHECK_FALSE(back->meta.heap_read);
  CHECK(back->meta.heap_problem.find("older mwscope") != std::string::npos);
  REQUIRE(back->stacks.size() == p.stacks.size());
  for (size_t i = 0; i < p.stacks.size(); i++) {
    CHECK(back->stacks[i].objects == p.stacks[i].objects);
    CHECK(back->stacks[i].inuse_bytes == 0);
    CHECK(back->stacks[i].inuse_change_bytes == 0);
  }
  CHECK(back->middleware[0].inuse_bytes == 0);
  CHECK(back->middleware[0].top_sites[0].inuse_bytes == 0);
  CHECK_FALSE(check_weight(*back, Weight::InuseBytes).ok());
}

TEST_CASE("json: schema 1 profiles, frames inline in each stack, still read", "[report]") {
  Profile p = http_profile();
  TaskGroup g;
  g.creation_frame_ids = {p.stacks[0].frame_ids.back()};
  g.spawned = 1;
  p.tasks.tracked = true;
  p.tasks.groups.push_back(g);
  nlohmann::json j = nlohmann::json::parse(render_json(p));
  // What a schema 1 writer wrote: no frame table, frame objects in place.
  const nlohmann::json table = j["frames"];
  auto inline_frames = [&](nlohmann::json& ids) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& id : ids) out.push_back(table[id.get<size_t>()]);
    ids = out;
  };
  for (auto& s : j["stacks"]) inline_frames(s["frames"]);
  for (auto& grp : j["tasks"]["groups"]) inline_frames(grp["creation_stack"]);
  j.erase("frames");
  j["schema"] = "mwscope.profile/1";
  auto back = parse_profile_json(j.dump(), "v1.json");
  REQUIRE(back.ok());
  REQUIRE(back->stacks.size() == p.stacks.size());
  for (size_t i = 0; i < p.stacks.size(); i++)
    CHECK(test::frames_of(*back, back->stacks[i].frame_ids) == test::frames_of(p, p.stacks[i].frame_ids));
  REQUIRE(back->tasks.groups.size() == 1);
  CHECK(test::frames_of(*back, back->tasks.groups[0].creation_frame_ids) ==
        test::frames_of(p, g.creation_frame_ids));
  // Frames shared by stacks are interned once on read.
  CHECK(back->frames.size() == p.frames.size());

  // Schema 1 has no frame indexes.
  j["stacks"][0]["frames"][0] = 0;
  auto bad = parse_profile_json(j.dump(), "v1.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("stacks[0].frames[0]: expected a frame object") != std::string::npos);
}

TEST_CASE("json: profiles written before sampled mode still read", "[report]") {
  const Profile exact = http_profile();
  nlohmann::json j = nlohmann::json::parse(render_json(exact));
  for (const char* k : {"sample_rate", "gc_cycles", "unattributed_free_samples", "unattributed_free_bytes"}) {
    REQUIRE(j["meta"].contains(k));
    j["meta"].erase(k);
  }
  for (auto& s : j["stacks"]) {
    for (const char* k : {"samples", "sample_bytes", "freed_samples", "freed_sample_bytes", "inuse_samples",
                          "inuse_sample_bytes", "inuse_objects", "inuse_bytes"}) {
      REQUIRE(s.contains(k));
      s.erase(k);
    }
  }
  j["totals"].erase("samples");
  auto back = parse_profile_json(j.dump(), "old.json");
  REQUIRE(back.ok());
  CHECK(*back == exact);
  CHECK_FALSE(back->sampled());
}

TEST_CASE("json: writes each frame once, stacks as frame indexes, and totals for humans, ignores totals on read",
          "[report]") {
  const Profile p = http_profile();
  nlohmann::json j = nlohmann::json::parse(render_json(p));
  CHECK(j["totals"]["objects"] == p.total_objects());
  CHECK(j["totals"]["bytes"] == p.total_bytes());
  CHECK(j["frames"].size() == p.frames.size());
  const auto& ids = j["stacks"][0]["frames"];
  REQUIRE(ids[0].is_number_unsigned());
  const auto& f = j["frames"][ids[0].get<size_t>()];
  CHECK(f.is_object());
  CHECK(f.size() == 4);
  CHECK(f["function"] == "runtime.mallocgc");
  CHECK(f["line"] == 1015);
  CHECK(f["inlined"] == false);
  // Leaf first, as in the model.
  CHECK(j["frames"][ids.back().get<size_t>()]["function"] == "net/http.(*conn).serve");
  // The frame net/http.(*conn).serve ends all four stacks and is written once.
  size_t serves = 0;
  for (const auto& fr : j["frames"]) serves += fr["function"] == "net/http.(*conn).serve";
  CHECK(serves == 1);

  j["totals"]["objects"] = 1;
  j["future_field"] = "ignored";
  auto back = parse_profile_json(j.dump());
  REQUIRE(back.ok());
  CHECK(*back == p);

  // Schema and meta come first in the file, stacks last.
  const std::string text = render_json(p);
  CHECK(text.find("\"schema\"") < text.find("\"meta\""));
  CHECK(text.find("\"totals\"") < text.find("\"stacks\""));
}

TEST_CASE("json: invalid UTF-8 is written as U+FFFD, never throws", "[report]") {
  Profile p;
  p.stacks = {st(p, {fr("main.bad\xff")}, 1, 1)};
  std::string text;
  REQUIRE_NOTHROW(text = render_json(p));
  auto back = parse_profile_json(text);
  REQUIRE(back.ok());
  CHECK(back->frame(back->stacks[0].frame_ids[0]).function == "main.bad\xEF\xBF\xBD");
}

namespace {
std::string error_of(const std::string& text) {
  auto r = parse_profile_json(text, "profile.json");
  REQUIRE_FALSE(r.ok());
  const std::string& m = r.error().message;
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.rfind("profile.json: ", 0) == 0);
  return m;
}
}  // namespace

TEST_CASE("json: rejects other schemas and non-profiles with a one-line message", "[report]") {
  nlohmann::json j = nlohmann::json::parse(render_json(http_profile()));
  j["schema"] = "mwscope.profile/4";
  CHECK(error_of(j.dump()) ==
        "profile.json: unsupported schema \"mwscope.profile/4\" (this mwscope reads "
        "\"mwscope.profile/3\", \"mwscope.profile/2\" and \"mwscope.profile/1\")");
  j.erase("schema");
  CHECK(error_of(j.dump()).find("missing field schema") != std::string::npos);
  CHECK(error_of("[1, 2]").find("expected a JSON object at the top level, got array") !=
        std::string::npos);
}

TEST_CASE("json: names the missing or wrong field", "[report]") {
  const nlohmann::json good = nlohmann::json::parse(render_json(http_profile()));

  nlohmann::json j = good;
  j["stacks"][3].erase("objects");
  CHECK(error_of(j.dump()) == "profile.json: missing field stacks[3].objects");

  j = good;
  j["frames"][2].erase("line");
  CHECK(error_of(j.dump()) == "profile.json: missing field frames[2].line");

  j = good;
  j["meta"].erase("dropped_events");
  CHECK(error_of(j.dump()) == "profile.json: missing field meta.dropped_events");

  j = good;
  j.erase("stacks");
  CHECK(error_of(j.dump()) == "profile.json: missing field stacks");

  j = good;
  j["stacks"][0]["bytes"] = "12";
  CHECK(error_of(j.dump()) ==
        "profile.json: field stacks[0].bytes: expected a non-negative integer, got string");

  j = good;
  j["stacks"][0]["objects"] = -1;
  CHECK(error_of(j.dump()).find("field stacks[0].objects: expected a non-negative integer") !=
        std::string::npos);

  j = good;
  j["stacks"][0]["objects"] = 1.5;
  CHECK(error_of(j.dump()).find("field stacks[0].objects") != std::string::npos);

  j = good;
  j["meta"]["pid"] = int64_t{1} << 40;
  CHECK(error_of(j.dump()).find("field meta.pid: value 1099511627776 out of range") !=
        std::string::npos);

  j = good;
  j["frames"][0]["line"] = uint64_t{1} << 32;
  CHECK(error_of(j.dump()).find("field frames[0].line: value 4294967296 out of range") !=
        std::string::npos);

  j = good;
  j["stacks"][2]["frames"][0] = "runtime.mallocgc";
  CHECK(error_of(j.dump()).find("field stacks[2].frames[0]: expected a frame index below") !=
        std::string::npos);

  j = good;
  j["stacks"][2]["frames"][0] = good["frames"].size();
  CHECK(error_of(j.dump()).find("field stacks[2].frames[0]: expected a frame index below") !=
        std::string::npos);

  j = good;
  j["frames"][0]["inlined"] = 0;
  CHECK(error_of(j.dump()).find("field frames[0].inlined: expected true or false") !=
        std::string::npos);

  j = good;
  j["frames"].push_back(good["frames"][0]);
  CHECK(error_of(j.dump()).find("field frames: a frame is listed twice") != std::string::npos);
}

TEST_CASE("json: new fields, when present, are read as strictly as the old ones", "[report]") {
  const nlohmann::json good = nlohmann::json::parse(render_json(sampled_profile()));
  nlohmann::json j = good;
  j["stacks"][0]["samples"] = -1;
  CHECK(error_of(j.dump()).find("field stacks[0].samples: expected a non-negative integer") != std::string::npos);

  j = good;
  j["stacks"][1]["inuse_bytes"] = "12";
  CHECK(error_of(j.dump()) == "profile.json: field stacks[1].inuse_bytes: expected an integer, got string");

  j = good;
  j["stacks"][1]["inuse_objects"] = std::numeric_limits<uint64_t>::max();
  CHECK(error_of(j.dump()).find("field stacks[1].inuse_objects: value 18446744073709551615 out of range") !=
        std::string::npos);

  j = good;
  j["meta"]["gc_cycles"] = 1.5;
  CHECK(error_of(j.dump()).find("field meta.gc_cycles") != std::string::npos);
}

TEST_CASE("json: malformed input gives a one-line parse error with its position", "[report]") {
  const std::string text = render_json(http_profile());
  const std::string m = error_of(text.substr(0, text.size() / 2));
  CHECK(m.find("malformed JSON") != std::string::npos);
  CHECK(m.find("line") != std::string::npos);
  CHECK(m.find("[json.exception") == std::string::npos);
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("{\"schema\": \"mwscope.profile/1\",}").find("malformed JSON") != std::string::npos);
}

// ---------------------------------------------------------------- text

TEST_CASE("text: header always shows dropped events and stack problems", "[report]") {
  Profile p = http_profile();
  std::string out = render_text(p, Weight::Bytes, 10);
  CHECK(std::regex_search(out, std::regex("\n  dropped events +0\n")));
  CHECK(std::regex_search(out, std::regex("\n  stack problems +0 stack errors .*0 truncated stacks")));
  CHECK(out.find("pid 4242") != std::string::npos);
  CHECK(out.find("/srv/api/bin/api-server") != std::string::npos);
  CHECK(out.find("go1.22.3") != std::string::npos);
  CHECK(out.find("exact") != std::string::npos);
  CHECK(out.find("2024-05-01 03:12:44 UTC") != std::string::npos);
  CHECK(out.find("2 probes attached") != std::string::npos);
  // 1310 objects in 10 s; 100,000 bytes = 97.7 KiB
  CHECK(out.find("1,310 objects, 97.7 KiB (100,000 bytes)") != std::string::npos);
  CHECK(out.find("131 objects/s, 9.8 KiB/s") != std::string::npos);

  p.meta.dropped_events = 90;
  p.meta.stack_errors = 3;
  p.meta.truncated_stacks = 1;
  out = render_text(p, Weight::Bytes, 10);
  CHECK(out.find("dropped events   90 of 1,400 events (6.4%) LOST") != std::string::npos);
  CHECK(out.find("3 stack errors") != std::string::npos);
  CHECK(out.find("1 truncated stack ") != std::string::npos);

  const std::string empty = render_text(Profile{}, Weight::Objects, 10);
  CHECK(std::regex_search(empty, std::regex("\n  dropped events +0\n")));
  CHECK(empty.find("No allocations recorded") != std::string::npos);
}

TEST_CASE("text: sites skip runtime leaf frames and aggregate across stacks", "[report]") {
  const Profile p = http_profile();
  const auto sites = allocation_sites(p, Weight::Bytes);
  REQUIRE(sites.size() == 3);
  // Logging: 64000 + 16000 from two stacks with different runtime leaves.
  CHECK(sites[0].frame.function == "main.Logging.func1");
  CHECK(sites[0].bytes == p.stacks[0].bytes + p.stacks[1].bytes);
  CHECK(sites[0].objects == p.stacks[0].objects + p.stacks[1].objects);
  CHECK(sites[0].stacks == 2);
  CHECK(sites[0].heaviest == &p.stacks[0]);
  CHECK(sites[0].site_index == 2);
  CHECK(sites[1].frame.function == "main.Auth.func1");
  // A stack entirely in the runtime keeps its leaf.
  CHECK(sites[2].frame.function == "runtime.mallocgc");

  const std::string out = render_text(p, Weight::Bytes, 10);
  const uint64_t total = p.total_bytes();  // 100000
  REQUIRE(total == 100000);
  // share = 80000 / 100000 and 19200 / 100000
  CHECK(std::regex_search(out, std::regex(
      R"(\n +1 +1,200 +78\.1 KiB +80\.0% +main\.Logging\.func1 +middleware/logging\.go:42\n)")));
  CHECK(std::regex_search(out, std::regex(
      R"(\n +2 +100 +18\.8 KiB +19\.2% +main\.Auth\.func1 +middleware/auth\.go:17\n)")));
  CHECK(std::regex_search(out, std::regex(
      R"(\n +3 +10 +800 B +0\.8% +runtime\.mallocgc +runtime/malloc\.go:1015\n)")));
  CHECK(out.find("runtime.newobject  ") != std::string::npos);  // shown in the chain only
  CHECK_FALSE(std::regex_search(out, std::regex(R"(\n +\d+ +[\d,]+ +\S+ \S+ +[\d.]+% +runtime\.newobject)")));

  // Ranked by objects the order changes and the heading says so.
  const std::string by_objects = render_text(p, Weight::Objects, 10);
  CHECK(by_objects.find("allocation sites by objects") != std::string::npos);
  CHECK(std::regex_search(by_objects, std::regex(R"(\n +1 +1,200 .* 91\.6% +main\.Logging\.func1)")));
}

TEST_CASE("text: heaviest stack of each top site, leaf to root, site marked", "[report]") {
  Profile p = http_profile();
  // A deep stack: 2 runtime frames + 20 user frames.
  std::vector<Frame> deep = {fr("runtime.mallocgc"), fr("runtime.newobject")};
  for (int i = 0; i < 20; ++i) deep.push_back(fr("main.level" + std::to_string(i), "/a/b/c.go", i + 1));
  p.stacks.push_back(st(p, deep, 1, 1000000));
  const std::string out = render_text(p, Weight::Bytes, 10);
  CHECK(out.find("#1 main.level0  heaviest of 1 stack: 1 objects, 976.6 KiB (100.0% of this site)") !=
        std::string::npos);
  CHECK(std::regex_search(out, std::regex(R"(\n    > main\.level0 +b/c\.go:1\n)")));
  CHECK(out.find("main.level9 ") != std::string::npos);   // 12th frame shown
  CHECK(out.find("main.level10 ") == std::string::npos);  // 13th is not
  CHECK(out.find("... 10 more frames (root: main.level19)") != std::string::npos);
  // Leaf first: mallocgc before the site, the root after.
  const auto chain = out.find("#2 main.Logging.func1");
  REQUIRE(chain != std::string::npos);
  CHECK(out.find("runtime.mallocgc", chain) < out.find("> main.Logging.func1", chain));
  CHECK(out.find("> main.Logging.func1", chain) < out.find("net/http.(*conn).serve", chain));
}

TEST_CASE("text: top_n limits rows and reports the rest", "[report]") {
  Profile p;
  p.meta.duration_s = 1;
  for (int i = 0; i < 30; ++i) {
    p.stacks.push_back(st(p, {fr("main.f" + std::to_string(i), "x.go", 1)}, 1, 100 + i));
  }
  const std::string out = render_text(p, Weight::Bytes, 5);
  CHECK(out.find("Top 5 allocation sites by bytes (of 30 sites") != std::string::npos);
  CHECK(out.find("main.f29 ") != std::string::npos);
  CHECK(out.find("main.f24 ") == std::string::npos);
  // 25 remaining sites: objects 25, bytes sum(100..124)
  uint64_t rest = 0;
  for (int i = 0; i < 25; ++i) rest += 100 + i;
  CHECK(out.find(fmt::format("... 25 more sites: 25 objects, {:.1f} KiB", rest / 1024.0)) !=
        std::string::npos);
  CHECK(render_text(p, Weight::Bytes, 0).find("Top 30 allocation sites") != std::string::npos);
}

TEST_CASE("text: deterministic, ties broken by name, fits 120 columns", "[report]") {
  Profile p = http_profile();
  p.meta.executable = "/" + std::string(300, 'x') + "/server";
  const std::string long_name =
      "github.com/some/very/long/module/path/v2/internal/pkg/middleware.(*Chain[...]).Then.func1." +
      std::string(80, 'y');
  p.stacks.push_back(st(p, {fr("runtime.mallocgc"), fr(long_name, "/very/long/dir/" + std::string(60, 'f') + ".go", 7)}, 5, 500));
  p.stacks.push_back(st(p, {fr("main.tie_b", "t.go", 1)}, 1, 64));
  p.stacks.push_back(st(p, {fr("main.tie_a", "t.go", 2)}, 1, 64));
  p.stacks.push_back(st(p, {fr("main.bad\nname\x1b[31m")}, 1, 1));
  const std::string out = render_text(p, Weight::Bytes, 0);
  check_fits(out);
  CHECK(out.find('\x1b') == std::string::npos);  // control characters never reach the terminal
  CHECK(out.find("main.bad\\x0aname\\x1b[31m") != std::string::npos);  // escaped (util/terminal_text.h)
  CHECK(out.find("main.tie_a") < out.find("main.tie_b"));

  Profile shuffled = p;
  std::reverse(shuffled.stacks.begin(), shuffled.stacks.end());
  std::rotate(shuffled.stacks.begin(), shuffled.stacks.begin() + 3, shuffled.stacks.end());
  CHECK(render_text(shuffled, Weight::Bytes, 0) == out);
  CHECK(render_text(shuffled, Weight::Objects, 3) == render_text(p, Weight::Objects, 3));
}


TEST_CASE("text: the header says which mode produced the report", "[report]") {
  const std::string exact = render_text(http_profile(), Weight::Bytes, 10);
  CHECK(std::regex_search(exact, std::regex("\n  mode +exact — every runtime\\.mallocgc call counted\n")));
  CHECK(exact.find("sampled") == std::string::npos);
  CHECK(exact.find("est.") == std::string::npos);
  CHECK(exact.find("samples") == std::string::npos);

  const std::string sampled = render_text(sampled_profile(), Weight::Bytes, 10);
  CHECK(std::regex_search(sampled, std::regex(
      "\n  mode +sampled — the Go runtime's heap sampler \\(runtime\\.MemProfileRate = 4096 B = 4\\.0 KiB\\)\n"
      " +objects and bytes are estimates scaled like pprof, raw samples shown beside them\n")));
  CHECK(sampled.find("est. 1,310 objects, 97.7 KiB (100,000 bytes)") != std::string::npos);
  // 26 samples of 4 stacks; 11 freed.
  CHECK(std::regex_search(sampled, std::regex("\n  raw samples +26 allocations \\(.*\\) sampled, 11 sampled objects")));
  CHECK(std::regex_search(sampled, std::regex("\n  dropped events +0\n")));

  Profile unknown = http_profile();
  unknown.meta.mode = "";
  CHECK(std::regex_search(render_text(unknown, Weight::Bytes, 10), std::regex("\n  mode +unknown\n")));
}

TEST_CASE("text: sampled sites show estimates, raw samples and in-use", "[report]") {
  Profile p = sampled_profile();
  const std::string out = render_text(p, Weight::Bytes, 10);
  // In use: 48000 + 16000 + 800 = 64800 bytes = 63.3 KiB; 750 + 200 + 10 objects;
  // change 40000 + 16000 - 7680 = 48320 bytes = 47.2 KiB.
  CHECK(out.find("heap in use      est. 960 objects, 63.3 KiB as of the last GC (the runtime's profile, "
                 "MemProfileRate 4096)\n                   change while recording: +47.2 KiB over 3 GCs\n") !=
        std::string::npos);
  CHECK(std::regex_search(out, std::regex(R"(\n +# +est\. objects +est\. bytes +samples +in use +share +function +location\n)")));
  // Logging: 1,200 est. objects from 16 + 4 samples, 64000 bytes in use.
  CHECK(std::regex_search(out, std::regex(
      R"(\n +1 +1,200 +78\.1 KiB +20 +62\.5 KiB +80\.0% +main\.Logging\.func1 +middleware/logging\.go:42\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n +2 +100 +18\.8 KiB +5 +0 B +19\.2% +main\.Auth\.func1 )")));
  CHECK(out.find("heaviest of 2 stacks: est. 1,000 objects, 62.5 KiB, 16 samples (80.0% of this site)") !=
        std::string::npos);
  CHECK(out.find("not attributed") == std::string::npos);
  check_fits(out);

  // Ranked by raw samples, Auth (5) still before the runtime site (1).
  const std::string by_samples = render_text(p, Weight::Samples, 10);
  CHECK(by_samples.find("allocation sites by samples") != std::string::npos);
  CHECK(std::regex_search(by_samples, std::regex(R"(\n +2 +100 +18\.8 KiB +5 +0 B +19\.2% +main\.Auth)")));
  // Ranked by in-use bytes, Auth holding nothing weighs 0: not listed.
  const std::string by_inuse = render_text(p, Weight::InuseBytes, 10);
  CHECK(by_inuse.find("Top 2 allocation sites by inuse-bytes") != std::string::npos);
  CHECK(by_inuse.find("main.Auth.func1  ") == std::string::npos);

  p.meta.gc_cycles = 0;
  CHECK(render_text(p, Weight::Bytes, 10).find("\n                   change while recording: none can show, no GC completed\n") !=
        std::string::npos);
  p.meta.heap_read = false;
  p.meta.heap_problem = "runtime.mbuckets not found";
  const std::string no_heap = render_text(p, Weight::Bytes, 10);
  CHECK(no_heap.find("heap in use      unknown: runtime.mbuckets not found\n") != std::string::npos);
  // The frees come from the same reading: unknown too, not "0 freed".
  CHECK(std::regex_search(no_heap, std::regex("\n  raw samples +26 allocations \\(.*\\) sampled, frees unknown "
                                              "\\(heap profile not read\\)\n")));
  CHECK(std::regex_search(no_heap, std::regex(R"(\n +1 +1,200 +78\.1 KiB +20 +80\.0% +main\.Logging)")));

  p.meta.unattributed_free_samples = 12;
  p.meta.unattributed_free_bytes = 3 * 1024 * 1024;
  const std::string frees = render_text(p, Weight::Bytes, 10);
  CHECK(frees.find("\n  not attributed   12 sampled frees (3.0 MiB) of objects allocated before attach at stacks "
                   "not seen since\n") != std::string::npos);
  check_fits(frees);
}

TEST_CASE("text: dropped events are split by cause", "[report]") {
  Profile p = http_profile();
  p.meta.dropped_events = 10;
  p.meta.dropped_ring_full = 6;
  p.meta.dropped_over_limit = 3;
  const std::string out = render_text(p, Weight::Bytes, 5);
  CHECK(out.find("10 of 1,320 events (0.8%) LOST") != std::string::npos);
  CHECK(out.find("\n                   6 ring buffer full (mwscope fell behind; a larger --ringbuf-mb helps)\n"
                 "                   3 over mwscope's limits (2^20 distinct stacks; record for less time)\n"
                 "                   1 other\n") != std::string::npos);
  check_fits(out);
  // None of them: no cause line.
  p.meta.dropped_events = 0;
  p.meta.dropped_ring_full = p.meta.dropped_over_limit = 0;
  CHECK(render_text(p, Weight::Bytes, 5).find("ring buffer full") == std::string::npos);
}

TEST_CASE("text: sampled middleware table shows samples, in-use and growth per minute", "[report]") {
  Profile p = sampled_profile();
  add_sampled_middleware(p);
  const std::string out = render_text(p, Weight::Bytes, 10);
  CHECK(std::regex_search(out, std::regex(R"(\n +# +middleware +objs/req +bytes/req +share +objects +bytes +samples +leaked\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n +1 +main\.Logging +- +- +80\.6% +1,200 +78\.1 KiB +20 +0\n)")));
  CHECK(out.find("Heap in use by middleware: as of the last GC (self, estimates); change since attach over 3 GCs") !=
        std::string::npos);
  CHECK(std::regex_search(out, std::regex(R"(\n +1 +main\.Logging +950 +62\.5 KiB +\+54\.7 KiB +\+1\.2 MiB/min\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\n +2 +main\.Auth +0 +0 B +-7\.5 KiB +-15\.0 KiB/min\n)")));
  CHECK(out.find("sites: main.Logging.func1 logging.go:42 (78.1 KiB x1,200, 62.5 KiB in use)") != std::string::npos);
  check_fits(out);
  CHECK(out.find("Tiny allocations") == std::string::npos);  // none missed: no table

  // Tiny allocations the sampler missed: a header line, and a table of the
  // rows they are charged to.
  p.meta.tiny_allocs = 300;
  p.meta.tiny_allocs_counted = true;
  p.middleware[1].tiny_allocs_missed = 300;
  const std::string tiny = render_text(p, Weight::Bytes, 10);
  CHECK(tiny.find("tiny allocs      300 the sampler missed") != std::string::npos);
  CHECK(tiny.find("Tiny allocations the sampler missed: 300 (runtime's count)") != std::string::npos);
  CHECK(std::regex_search(tiny, std::regex(R"(\n +1 +main\.Auth +300 +-\n)")));
  check_fits(tiny);

  p.meta.heap_read = false;
  p.meta.heap_problem = "the runtime's memory profile is read from go1.19 on";
  CHECK(render_text(p, Weight::Bytes, 10).find("Heap in use by middleware: unknown (the runtime's memory profile is read "
                                               "from go1.19 on)") != std::string::npos);
}

TEST_CASE("text: exact middleware table keeps its columns", "[report]") {
  Profile p = http_profile();
  p.middleware = {MiddlewareRow{.name = "main.Logging", .objects = 1200, .bytes = 80000,
                                .top_sites = {NamedCount{"main.Logging.func1 logging.go:42", 1200, 80000, 0}}}};
  const std::string out = render_text(p, Weight::Bytes, 10);
  CHECK(out.find("\n    #  middleware                             objs/req   bytes/req   share     objects       bytes   leaked\n"
                 "    1  main.Logging                                  -           -  100.0%       1,200    78.1 KiB        0\n") !=
        std::string::npos);
  CHECK(out.find("sites: main.Logging.func1 logging.go:42 (78.1 KiB x1,200)\n") != std::string::npos);
  CHECK(out.find("In use") == std::string::npos);
}

// ---------------------------------------------------------------- reporter

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mws_report_test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") ::unlink((path + "/" + n).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
  size_t entries() const {
    size_t n = 0;
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
      ::closedir(d);
    }
    return n;
  }
};
}  // namespace

TEST_CASE("reporter: write_file replaces atomically and leaves no temp file", "[report]") {
  TempDir dir;
  const std::string path = dir.path + "/profile.json";
  const std::string text = render_json(http_profile());
  REQUIRE(write_file(path, "old contents that are longer than nothing").ok());
  REQUIRE(write_file(path, text).ok());
  auto back = read_file(path);
  REQUIRE(back.ok());
  CHECK(*back == text);
  CHECK(dir.entries() == 1);
  auto parsed = parse_profile_json(*back, path);
  REQUIRE(parsed.ok());
  CHECK(*parsed == http_profile());

  REQUIRE(write_file(path, "").ok());
  CHECK(read_file(path)->empty());
}

TEST_CASE("reporter: write_new_file never overwrites, takes the next free name, leaves no temp file", "[report]") {
  TempDir dir;
  auto first = write_new_file(dir.path, "mwscope-1-20261128T000000Z", ".pb.gz", "first");
  REQUIRE(first.ok());
  CHECK(*first == dir.path + "/mwscope-1-20261128T000000Z.pb.gz");
  auto second = write_new_file(dir.path, "mwscope-1-20261128T000000Z", ".pb.gz", "second");
  REQUIRE(second.ok());
  CHECK(*second == dir.path + "/mwscope-1-20261128T000000Z-2.pb.gz");
  CHECK(*read_file(*first) == "first");  // untouched
  CHECK(*read_file(*second) == "second");
  CHECK(dir.entries() == 2);
  auto missing = write_new_file(dir.path + "/no-such-dir", "x", ".pb.gz", "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("no-such-dir") != std::string::npos);
}

TEST_CASE("live: interval file names sort in the order the intervals ended, two in one second included", "[report]") {
  Profile a;
  a.meta.pid = 42;
  a.meta.started_unix_ns = 1796601600ull * 1000000000;  // 2026-12-07T00:00:00Z
  a.meta.duration_s = 9.25;  // exact in binary
  Profile b = a;
  b.meta.duration_s = 9.75;  // the same second
  Profile c = a;
  c.meta.duration_s = 10.125;
  const std::string sa = interval_file_stem(a), sb = interval_file_stem(b), sc = interval_file_stem(c);
  CHECK(sa == "mwscope-42-20261207T000009.250Z");
  CHECK(sb == "mwscope-42-20261207T000009.750Z");
  CHECK(sa < sb);
  CHECK(sb < sc);
}

TEST_CASE("reporter: write and read errors name the path and the errno text", "[report]") {
  TempDir dir;
  const std::string missing = dir.path + "/no/such/dir/out.folded";
  auto w = write_file(missing, "x");
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().message.find(missing) != std::string::npos);
  CHECK(w.error().message.find("No such file or directory") != std::string::npos);

  // The target is a directory: rename fails, nothing is left behind.
  const std::string sub = dir.path + "/adir";
  REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
  auto d = write_file(sub, "x");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message.find(sub) != std::string::npos);
  CHECK(dir.entries() == 1);

  auto r = read_file(dir.path + "/absent.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "cannot read " + dir.path + "/absent.json: No such file or directory");
}

TEST_CASE("reporter: a saved profile is read only from a regular file of bounded size and depth", "[report]") {
  TempDir dir;
  // Endless or blocking inputs are refused before a byte is read.
  for (const auto& [path, kind] : {std::pair<std::string, std::string>{"/dev/zero", "a device"},
                                   {dir.path, "a directory"}}) {
    auto r = read_file(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "cannot read " + path + ": it is " + kind +
                                   ", not a regular file; give a profile written by mwscope --json");
  }
  const std::string fifo = dir.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto f = read_file(fifo);  // no writer: a blocking read would hang here
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().message.find("it is a pipe") != std::string::npos);

  // Larger than the limit: refused, naming both sizes.
  const std::string big = dir.path + "/big.json";
  REQUIRE(write_file(big, std::string(3 << 20, ' ')).ok());
  auto b = read_file(big, 2 << 20);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().message == "cannot read " + big + ": 3 MiB is more than the 2 MiB a profile may have");
  CHECK(read_file(big, 4 << 20).ok());

  // Nesting far deeper than a profile's is refused at once, in one line.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto p = parse_profile_json(deep, "deep.json");
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message.find("deep.json: ") == 0);
  CHECK(p.error().message.find("nested deeper than 32 levels") != std::string::npos);
  CHECK(p.error().message.find('\n') == std::string::npos);
}

// ---------------------------------------------------------------- leaks

#include "report/leaks.h"

TEST_CASE("leaks folded: goroutines read at the end by parked stack, tracked ones by creation stack", "[report]") {
  Profile p;
  GoroutineGroup parked;
  parked.frame_ids = test::intern(p, {fr("runtime.gopark"), fr("main.Watchdog.func1.1"), fr("runtime.goexit")});
  parked.count = 50;
  parked.leaked = 45;
  parked.leaked_before_attach = 40;
  GoroutineGroup quiet;  // nothing leaked: no line
  quiet.frame_ids = test::intern(p, {fr("internal/poll.runtime_pollWait"), fr("runtime.goexit")});
  quiet.count = 3;
  p.goroutines.read = true;
  p.goroutines.groups = {parked, quiet};

  // Without the spawn probes every leaked goroutine comes from the reading.
  CHECK(render_leaks_folded(p) == "runtime.goexit;main.Watchdog.func1.1;runtime.gopark 45\n");
  CHECK(describe_leaks_folded(p) ==
        "1 group of 45 goroutines read from memory at the end, by where they are parked, before attach included");

  // With them, those born while recording come by creation stack, and only
  // the 40 alive at attach from the reading: none counted twice.
  TaskGroup created;
  created.creation_frame_ids = test::intern(p, {fr("main.Watchdog.func1"), fr("net/http.(*conn).serve")});
  created.spawned = created.live = created.leaked = 5;
  p.tasks.tracked = true;
  p.tasks.groups = {created};
  CHECK(render_leaks_folded(p) ==
        "net/http.(*conn).serve;main.Watchdog.func1 5\n"
        "runtime.goexit;main.Watchdog.func1.1;runtime.gopark 40\n");
  CHECK(describe_leaks_folded(p) ==
        "1 group created while recording, by creation stack; and the 40 leaked before attach, by where they are "
        "parked");

  // Unread: the tracked groups only, and why the rest is missing.
  p.goroutines = GoroutineSnapshotSummary{};
  p.goroutines.problem = "runtime.allgs not found";
  p.tasks.preexisting_at_attach = 7;
  CHECK(render_leaks_folded(p) == "net/http.(*conn).serve;main.Watchdog.func1 5\n");
  CHECK(describe_leaks_folded(p) ==
        "1 group created while recording; the 7 goroutines alive before attach are not in it: runtime.allgs not found");
}

TEST_CASE("json: goroutines read at the end round-trip, and a bad frame index names its group", "[report]") {
  Profile p = http_profile();
  GoroutineGroup g;
  g.frame_ids = test::intern(p, {fr("runtime.gopark"), fr("main.Watchdog.func1.1", "main.go", 180)});
  g.creation_frame_ids = test::intern(p, {fr("main.Watchdog.func1", "main.go", 178)});
  g.start_function = "main.Watchdog.func1.1";
  g.count = 40;
  g.at_attach = 33;
  g.leaked = 40;
  g.leaked_before_attach = 38;
  g.leaked_per_request = 40;
  g.leaked_unreachable = 12;
  g.origin = "request";
  GoroutineEvidence e;
  e.count = 28;
  e.at_attach = 26;
  e.blocked_long = e.from_request = true;
  GoroutineEvidence both = e;
  both.count = 12;
  both.at_attach = 12;
  both.unreachable = true;
  g.evidence = {e, both};
  g.blocked_s = 61.5;
  g.states = {{"chan receive", 40}};
  g.middleware = "main.Watchdog";
  GoroutineGroup loop;
  loop.frame_ids = test::intern(p, {fr("runtime.gopark"), fr("main.cleaner", "main.go", 90)});
  loop.start_function = "main.cleaner";
  loop.count = loop.at_attach = loop.long_lived = 1;
  loop.origin = "start-up";
  loop.states = {{"select", 1}};
  loop.middleware = "(server)";
  p.goroutines = {.read = true, .at_attach = 70, .total = 44, .total_at_attach = 30, .duration_s = 12.5,
                  .runtime = 5, .leaked = 40, .long_lived = 1, .leak_age_s = 30,
                  .reachability = {.ran = true, .candidates = 41, .unreachable = 12, .bytes_scanned = 3 << 20,
                                   .seconds = 0.25},
                  .groups = {g, loop}};
  auto back = parse_profile_json(render_json(p));
  REQUIRE(back.ok());
  CHECK(back->goroutines.reachability == p.goroutines.reachability);
  REQUIRE(back->goroutines.groups.size() == 2);
  CHECK(back->goroutines.groups[0].evidence == p.goroutines.groups[0].evidence);
  CHECK(back->goroutines.groups[0] == p.goroutines.groups[0]);
  CHECK(back->goroutines == p.goroutines);
  // Growth while recording, in all and per group: 14 over 12.5 s is 67.2 a minute.
  const std::string text = render_leaks_text(p, 10);
  CHECK(text.find("read from the target's memory: 44 (30 at attach, change +14 = +67.2/min;") != std::string::npos);
  INFO(text);
  CHECK(text.find("leaked: 40 (unreachable 12, started per request and blocked at least 30 s 40, Go says 0); "
                  "requests stuck in flight: 0; long-lived by design: 1; suspect: 0") != std::string::npos);
  CHECK(text.find("reachability scan: 41 channel waits, 12 unreachable on two looks") != std::string::npos);
  CHECK(text.find("\n    1       40       +7     1m02s  40 leaked: unreachable+per request\n") != std::string::npos);
  CHECK(text.find("\n    2        1        0         -  1 long-lived\n") != std::string::npos);
  CHECK(text.find("created by main.Watchdog.func1 (request); main.Watchdog\n") != std::string::npos);
  CHECK(test::frames_of(*back, back->goroutines.groups[0].frame_ids) == test::frames_of(p, g.frame_ids));

  nlohmann::json j = nlohmann::json::parse(render_json(p));
  j["goroutines"]["groups"][0]["stack"][1] = 100000;
  CHECK(error_of(j.dump()).find("field goroutines.groups[0].stack[1]: expected a frame index below") !=
        std::string::npos);
}
