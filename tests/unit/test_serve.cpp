// serve's pure parts: the counters that never go back, the exposition
// format (checked again by promtool in the integration test), the pprof
// delta, and --listen.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "profile_helpers.h"
#include "proto/pprof_profile.pb.h"
#include "report/pprof.h"
#include "report/pprof_delta.h"
#include "serve/alloc_counters.h"
#include "serve/http_api.h"
#include "serve/metrics.h"
#include "util/gzip.h"

using namespace mws;
using namespace mws::serve;

namespace {

Profile with_rows(const std::map<std::string, std::pair<uint64_t, uint64_t>>& rows) {
  Profile p;
  p.meta.mode = "exact";
  for (const auto& [name, v] : rows) {
    MiddlewareRow r;
    r.name = name;
    r.objects = v.first;
    r.bytes = v.second;
    p.middleware.push_back(r);
  }
  return p;
}

std::map<std::string, AllocSeries> by_name(const AllocCounters& c) {
  std::map<std::string, AllocSeries> out;
  for (const auto& s : c.series()) out[s.middleware] = s;
  return out;
}

}  // namespace

TEST_CASE("alloc counters: at most top named series, the rest in (other), each only grows and all sum to the totals") {
  AllocCounters c(2);
  c.update(with_rows({{"main.A", {10, 1000}}, {"main.B", {5, 500}}, {"main.C", {1, 100}}}));
  auto s = by_name(c);
  REQUIRE(s.size() == 3);
  CHECK(s["main.A"].objects == 10);
  CHECK(s["main.B"].objects == 5);
  CHECK(s[kOtherMiddleware].objects == 1);
  // C outgrows both: it stays in (other), the named set does not churn.
  c.update(with_rows({{"main.A", {11, 1100}}, {"main.B", {6, 600}}, {"main.C", {100, 100000}}}));
  s = by_name(c);
  REQUIRE(s.size() == 3);
  CHECK(s["main.A"].objects == 11);
  CHECK(s["main.B"].objects == 6);
  CHECK(s[kOtherMiddleware].objects == 100);
  CHECK(s[kOtherMiddleware].bytes == 100000);
  // A total that goes back (a sampled estimate) never lowers a counter.
  c.update(with_rows({{"main.A", {9, 900}}, {"main.B", {6, 600}}, {"main.C", {100, 100000}}}));
  s = by_name(c);
  CHECK(s["main.A"].objects == 11);
  CHECK(s["main.A"].bytes == 1100);
}

TEST_CASE("alloc counters: a middleware first seen later gets a series while fewer than top are named") {
  AllocCounters c(3);
  c.update(with_rows({{"main.A", {10, 1000}}}));
  c.update(with_rows({{"main.A", {10, 1000}}, {"main.B", {4, 40}}}));
  auto s = by_name(c);
  CHECK(s["main.B"].objects == 4);  // all of it since attach, not only the growth
  CHECK(s.count(kOtherMiddleware) == 0);
}

TEST_CASE("metrics: every family has HELP and TYPE, label values escaped, middleware bounded by top") {
  Profile p = with_rows({{"main.A", {10, 1000}}, {"main.B", {5, 500}}, {"main.C", {1, 100}}});
  p.meta.go_version = "go1.19.8";
  p.meta.dropped_events = 7;
  p.meta.heap_read = true;
  for (auto& r : p.middleware) r.inuse_bytes = int64_t(r.bytes);
  p.requests.counted = true;
  p.requests.requests = 42;
  p.goroutines.read = true;
  GoroutineGroup leak;
  leak.middleware = "main.B";
  leak.count = leak.leaked = leak.leaked_per_request = 3;
  leak.states = {{"chan receive", 3}};
  GoroutineGroup idle;
  idle.middleware = "(server)";
  idle.count = 2;
  idle.states = {{"IO wait", 2}};
  p.goroutines.groups = {leak, idle};
  AllocCounters c(2);
  c.update(p);
  TargetMetrics t{{12, "my\"srv\n\xff", "abc"}, true, &p, &c, 0.01};
  const std::string text = render_metrics({t}, {}, 2);
  const std::string labels = "pid=\"12\",exe=\"my\\\"srv\\n\xEF\xBF\xBD\",container=\"abc\"";
  CHECK(text.find("mwscope_alloc_objects_total{" + labels + ",middleware=\"main.A\"} 10\n") != std::string::npos);
  CHECK(text.find("mwscope_alloc_objects_total{" + labels + ",middleware=\"(other)\"} 1\n") != std::string::npos);
  CHECK(text.find("mwscope_heap_inuse_bytes{" + labels + ",middleware=\"(other)\"} 100\n") != std::string::npos);
  CHECK(text.find("mwscope_goroutines{" + labels + ",state=\"chan receive\"} 3\n") != std::string::npos);
  CHECK(text.find("mwscope_goroutines_leaked{" + labels + ",middleware=\"main.B\",why=\"per_request\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("mwscope_requests_total{" + labels + "} 42\n") != std::string::npos);
  CHECK(text.find("mwscope_events_dropped_total{" + labels + "} 7\n") != std::string::npos);
  CHECK(text.find("mwscope_target_up{" + labels + "} 1\n") != std::string::npos);
  // HELP and TYPE once per family, before its samples.
  for (const char* family : {"mwscope_alloc_objects_total", "mwscope_goroutines_leaked", "mwscope_targets"}) {
    const size_t help = text.find(std::string("# HELP ") + family + " ");
    const size_t type = text.find(std::string("# TYPE ") + family + " ");
    REQUIRE(help != std::string::npos);
    CHECK(type > help);
    CHECK(text.find(std::string("# HELP ") + family + " ", help + 1) == std::string::npos);
  }
}

TEST_CASE("metrics: a target without a snapshot yet shows only that it is not up") {
  TargetMetrics t{{5, "api", ""}, false, nullptr, nullptr, 0};
  const std::string text = render_metrics({t}, {}, 5);
  CHECK(text.find("mwscope_target_up{pid=\"5\",exe=\"api\"} 0\n") != std::string::npos);
  CHECK(text.find("mwscope_alloc_objects_total{") == std::string::npos);
  CHECK(text.find("mwscope_targets 1\n") != std::string::npos);
}

TEST_CASE("pprof delta: values at the same stack and labels subtracted, unchanged samples left out") {
  Profile before;
  before.meta.mode = "exact";
  before.meta.started_unix_ns = 1000000000;
  before.meta.duration_s = 1;
  auto a = test::make_stack(before, {{"main.alloc", "/a.go", 3, false}, {"main.Logging", "/a.go", 9, false}}, 10,
                            100, "", "main.Logging");
  auto b = test::make_stack(before, {{"main.other", "/a.go", 5, false}}, 4, 40, "", "(server)");
  before.stacks = {a, b};
  Profile after = before;
  after.meta.duration_s = 3;
  after.stacks[0].objects = 25;
  after.stacks[0].bytes = 250;
  auto delta = pprof_delta(render_pprof_heap(before), render_pprof_heap(after));
  REQUIRE(delta);
  pprof::Profile d;
  REQUIRE(d.ParseFromString(gunzip(*delta)));
  REQUIRE(d.sample_size() == 1);  // main.other did not change
  CHECK(d.sample(0).value(0) == 15);
  CHECK(d.sample(0).value(1) == 150);
  CHECK(d.duration_nanos() == 2000000000);
  CHECK(d.time_nanos() == 2000000000);
  CHECK_FALSE(pprof_delta("not gzip", render_pprof_heap(after)));
}

TEST_CASE("serve's listen address: loopback unless another address is given explicitly") {
  CHECK(*parse_listen("9464") == std::make_pair(std::string("127.0.0.1"), 9464));
  CHECK(*parse_listen(":9464") == std::make_pair(std::string("127.0.0.1"), 9464));
  CHECK(*parse_listen("0.0.0.0:80") == std::make_pair(std::string("0.0.0.0"), 80));
  CHECK(*parse_listen("[::1]:9464") == std::make_pair(std::string("::1"), 9464));
  CHECK_FALSE(parse_listen("host:port"));
  CHECK_FALSE(parse_listen("127.0.0.1:70000"));
}
