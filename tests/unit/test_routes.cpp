// Routes in every report (issue 29), on Profiles built by hand: the text
// report's "By route" table, the `route` label of both pprof profiles,
// folded stacks grouped by route, serve's per-route series and diff by
// route. A profile without routes looks as it did before.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "profile_helpers.h"
#include "proto/pprof_profile.pb.h"
#include "report/diff.h"
#include "report/folded.h"
#include "report/json.h"
#include "report/pprof.h"
#include "report/routes.h"
#include "report/routes_text.h"
#include "report/text.h"
#include "serve/alloc_counters.h"
#include "serve/metrics.h"
#include "util/gzip.h"

using namespace mws;

namespace {

Frame fr(std::string function, uint32_t line) { return Frame{std::move(function), "/src/app.go", line, false}; }

ProfileRoute route(std::string name, uint64_t requests, std::string router = "net/http.ServeMux") {
  return ProfileRoute{std::move(name), requests == 0 ? "" : std::move(router), requests};
}

// Two routes, a pseudo-route and a hostile name:
//  - main.Logging (every request) allocates 20 objects for GET /items and 10
//    for POST /orders; it holds 300 B, apportioned 200 / 100;
//  - the orders handler allocates 40 objects (8000 B) for POST /orders and
//    leaks 2 of the 3 goroutines it started;
//  - a background ticker allocates outside every request.
Profile routes_profile() {
  Profile p;
  p.meta.mode = "exact";
  p.meta.go_version = "go1.22.1";
  p.meta.heap_read = true;
  p.meta.heap_profile_rate = 1;
  p.route_summary.recorded = true;
  p.route_summary.routers = {"net/http.ServeMux (go1.22 patterns)"};
  p.route_summary.refused = {"gin: its version could not be read"};
  p.route_summary.route_events = 100;
  p.route_summary.truncated = 2;
  p.routes = {route("GET /items/{id}", 10), route("POST /orders", 4), route(std::string(kRouteNoRequest), 0),
              route("GET /evil\x1b[31m\"", 1)};

  ProfileStack logging =
      test::make_stack(p, {fr("main.Logging.func1", 10), fr("net/http.serve", 30)}, 30, 3000, "", "main.Logging");
  logging.inuse_objects = 3;
  logging.inuse_bytes = 300;
  logging.by_route = {{0, 20, 2000, 0}, {1, 10, 1000, 0}};
  p.stacks.push_back(logging);
  ProfileStack orders =
      test::make_stack(p, {fr("main.createOrder", 20), fr("net/http.serve", 30)}, 40, 8000, "", "main.createOrder");
  orders.inuse_objects = 10;
  orders.inuse_bytes = 1000;
  orders.by_route = {{1, 40, 8000, 0}};
  p.stacks.push_back(orders);
  ProfileStack tick = test::make_stack(p, {fr("main.tick", 5)}, 5, 50, "", "(server)");
  tick.by_route = {{2, 5, 50, 0}};
  p.stacks.push_back(tick);

  p.tasks.tracked = true;
  TaskGroup leak;
  leak.creation_frame_ids = test::intern(p, {fr("main.createOrder", 21)});
  leak.start_function = "main.createOrder.func1";
  leak.spawned = leak.live = 3;
  leak.leaked = 2;
  leak.middleware = "main.createOrder";
  leak.by_route = {{1, 3, 2}};
  p.tasks.groups.push_back(leak);
  TaskGroup old;  // no route counts: unlabelled
  old.creation_frame_ids = test::intern(p, {fr("main.main", 1)});
  old.spawned = old.live = 1;
  old.middleware = "(server)";
  p.tasks.groups.push_back(old);
  return p;
}

pprof::Profile decode(const std::string& gzipped) {
  pprof::Profile out;
  REQUIRE(out.ParseFromString(gunzip(gzipped)));
  return out;
}

std::map<std::string, std::string> labels_of(const pprof::Profile& p, const pprof::Sample& s) {
  std::map<std::string, std::string> out;
  for (const auto& l : s.label()) out[p.string_table(l.key())] = p.string_table(l.str());
  return out;
}

std::string leaf_of(const pprof::Profile& p, const pprof::Sample& s) {
  for (const auto& l : p.location())
    if (l.id() == s.location_id(0))
      for (const auto& f : p.function())
        if (f.id() == l.line(0).function_id()) return p.string_table(f.name());
  return "";
}

// The table row that names `what`, its columns joined by one space.
std::string row_of(const std::string& table, const std::string& what) {
  const size_t at = table.find("  " + what + " ");
  if (at == std::string::npos) return "";
  const size_t begin = table.rfind('\n', at) + 1, end = table.find('\n', at);
  std::string out;
  for (char c : table.substr(begin, end - begin))
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("routes: totals per route, heaviest first, heap apportioned by objects, top middleware by bytes",
          "[report][routes]") {
  const Profile p = routes_profile();
  const std::vector<RouteTotals> t = route_totals(p);
  REQUIRE(t.size() == 4);
  CHECK(t[0].name == "POST /orders");
  CHECK(t[0].objects == 50);
  CHECK(t[0].bytes == 9000);
  CHECK(t[0].objects_per_request() == 12.5);
  CHECK(t[0].inuse_bytes == 100 + 1000);
  CHECK(t[0].leaked_tasks == 2);
  CHECK(t[0].top_middleware == "main.createOrder");
  CHECK(t[1].name == "GET /items/{id}");
  CHECK(t[1].inuse_bytes == 200);
  CHECK(t[1].top_middleware == "main.Logging");
  CHECK(t[2].name == kRouteNoRequest);
  CHECK(t[2].top_middleware == "(server)");
  CHECK(t[3].objects == 0);
  // The in-use split always sums to the stack's own, whatever the rounding.
  ProfileStack s;
  s.by_route = {{0, 1, 0, 0}, {1, 1, 0, 0}, {2, 1, 0, 0}};
  const std::vector<int64_t> parts = split_inuse(s, 100);
  CHECK(parts[0] + parts[1] + parts[2] == 100);
  CHECK(route_totals(Profile{}).empty());
}

TEST_CASE("routes text: one row per route with per-request figures, - for pseudo-routes, names escaped",
          "[report][routes]") {
  const Profile p = routes_profile();
  const std::string text = render_text(p, Weight::Bytes, 10);
  const size_t at = text.find("\nBy route");
  REQUIRE(at != std::string::npos);
  const std::string table = text.substr(at);
  INFO(table);
  CHECK(table.find("POST /orders") < table.find("GET /items/{id}"));
  // #, route, requests, objs/req, bytes/req, heap, leaked, top middleware
  CHECK(row_of(table, "POST /orders") == "1 POST /orders 4 12.50 2.2 KiB 1.1 KiB 2 main.createOrder");
  CHECK(row_of(table, "GET /items/{id}") == "2 GET /items/{id} 10 2.00 200 B 200 B 0 main.Logging");
  CHECK(row_of(table, "(no request)") == "3 (no request) 0 - - 0 B 0 (server)");
  CHECK(table.find("GET /evil\\x1b[31m\"") != std::string::npos);
  CHECK(table.find('\x1b') == std::string::npos);
  CHECK(table.find("apportioned") != std::string::npos);
  CHECK(table.find("router not probed: gin: its version could not be read") != std::string::npos);
  CHECK(table.find("2 with the pattern cut") != std::string::npos);
  CHECK(table.find("net/http.ServeMux (go1.22 patterns)") != std::string::npos);

  // Sampled: the raw samples beside the estimates.
  Profile sampled = routes_profile();
  sampled.meta.mode = "sampled";
  for (auto& s : sampled.stacks)
    for (auto& r : s.by_route) r.samples = 1;
  const std::string st = render_routes_text(sampled, 10);
  CHECK(st.find("samples") != std::string::npos);
  CHECK(st.find("estimates") != std::string::npos);

  // --top cuts the table.
  CHECK(render_routes_text(p, 1).find("... 3 more") != std::string::npos);
  // What (no request) holds is said under the table.
  CHECK(table.find("(no request): work outside every request's handler") != std::string::npos);

  // A long route keeps its method and the end of its path, not a Go
  // symbol's last segment.
  Profile long_route = routes_profile();
  long_route.routes[0].name = "GET /api/v1/organizations/{org}/projects/{project}/items/{id}";
  const std::string lt = render_routes_text(long_route, 10);
  INFO(lt);
  CHECK(lt.find("GET \u2026") != std::string::npos);
  CHECK(lt.find("/projects/{project}/items/{id} ") != std::string::npos);
  CHECK(lt.find("organizations") == std::string::npos);
}

TEST_CASE("routes text: nothing without routes, the reason when they could not be recorded", "[report][routes]") {
  Profile p = routes_profile();
  p.route_summary = RouteSummary{};
  CHECK(render_routes_text(p, 10).empty());
  CHECK(render_text(p, Weight::Bytes, 10).find("By route") == std::string::npos);
  p.route_summary.unavailable = "no router found";
  CHECK(render_routes_text(p, 10) == "\nBy route: not recorded (no router found)\n");
}

TEST_CASE("routes pprof heap: one sample per route share, labelled route, in-use split, totals unchanged",
          "[report][routes][pprof]") {
  const Profile p = routes_profile();
  const pprof::Profile out = decode(render_pprof_heap(p));
  std::map<std::string, std::vector<int64_t>> by;
  int64_t objects = 0, inuse_bytes = 0;
  for (const auto& s : out.sample()) {
    auto l = labels_of(out, s);
    REQUIRE(l.count("route"));
    by[leaf_of(out, s) + "|" + l["route"]] = std::vector<int64_t>(s.value().begin(), s.value().end());
    objects += s.value(0);
    inuse_bytes += s.value(3);
  }
  CHECK(by == std::map<std::string, std::vector<int64_t>>{
                  {"main.Logging.func1|GET /items/{id}", {20, 2000, 2, 200}},
                  {"main.Logging.func1|POST /orders", {10, 1000, 1, 100}},
                  {"main.createOrder|POST /orders", {40, 8000, 10, 1000}},
                  {"main.tick|(no request)", {5, 50, 0, 0}}});
  CHECK(objects == 75);
  CHECK(inuse_bytes == 1300);

  // A goroutine a middleware started: its part of each route's share
  // carries via_middleware beside the route.
  Profile spawned = routes_profile();
  spawned.spawn_chains.push_back(SpawnChain{{}, "main.Logging"});
  spawned.stacks[0].spawned_by = {{0, 15, 1500, 0}};  // half of the stack, so half of each route's share
  const pprof::Profile sp = decode(render_pprof_heap(spawned));
  std::map<std::string, int64_t> via;
  for (const auto& s : sp.sample()) {
    auto l = labels_of(sp, s);
    if (leaf_of(sp, s) == "main.Logging.func1") via[l["route"] + "|" + l["via_middleware"]] += s.value(0);
  }
  CHECK(via == std::map<std::string, int64_t>{{"GET /items/{id}|main.Logging", 10},
                                              {"GET /items/{id}|", 10},
                                              {"POST /orders|main.Logging", 5},
                                              {"POST /orders|", 5}});
}

TEST_CASE("routes pprof goroutines: goroutines created while recording labelled with their creator's route",
          "[report][routes][pprof]") {
  const Profile p = routes_profile();  // goroutines not read from memory: the tracked ones
  const pprof::Profile out = decode(render_pprof_goroutines(p));
  std::map<std::string, int64_t> by;
  for (const auto& s : out.sample()) {
    auto l = labels_of(out, s);
    by[l["route"] + "|" + l["leaked"] + "|" + leaf_of(out, s)] += s.value(0);
  }
  CHECK(by == std::map<std::string, int64_t>{{"POST /orders|true|main.createOrder", 2},
                                             {"POST /orders|false|main.createOrder", 1},
                                             {"|false|main.main", 1}});
}

TEST_CASE("routes pprof goroutines: goroutines read from memory labelled with the route of the request that started them",
          "[report][routes][pprof]") {
  Profile p = routes_profile();
  p.goroutines.read = true;
  GoroutineGroup parked;  // 3 parked: 2 leaked (both started by POST /orders), 1 none (no route)
  parked.frame_ids = test::intern(p, {fr("main.createOrder.func1", 22)});
  parked.start_function = "main.createOrder.func1";
  parked.middleware = "main.createOrder";
  parked.count = 3;
  parked.leaked = 2;
  parked.leaked_unreachable = 2;
  parked.by_route = {{1, 2, 2}};
  p.goroutines.groups.push_back(parked);
  GoroutineGroup mixed;  // 4: 1 leaked (GET /items/{id}), 1 long-lived (POST /orders), 2 none (no route)
  mixed.frame_ids = test::intern(p, {fr("main.worker", 7)});
  mixed.start_function = "main.worker";
  mixed.count = 4;
  mixed.leaked = 1;
  mixed.long_lived = 1;
  mixed.by_route = {{0, 1, 1}, {1, 1, 0}};
  p.goroutines.groups.push_back(mixed);
  const pprof::Profile out = decode(render_pprof_goroutines(p));
  std::map<std::string, int64_t> by;
  int64_t total = 0;
  for (const auto& s : out.sample()) {
    auto l = labels_of(out, s);
    by[l["route"] + "|" + l["verdict"] + "|" + leaf_of(out, s)] += s.value(0);
    total += s.value(0);
  }
  CHECK(total == 7);
  CHECK(by == std::map<std::string, int64_t>{{"POST /orders|leaked|main.createOrder.func1", 2},
                                             {"|none|main.createOrder.func1", 1},
                                             {"GET /items/{id}|leaked|main.worker", 1},
                                             {"POST /orders|long-lived|main.worker", 1},
                                             {"|none|main.worker", 2}});
}

TEST_CASE("routes folded: --group-by route puts the route first, one line per share", "[report][routes][folded]") {
  const Profile p = routes_profile();
  // A route no stack has a share of (GET /evil) has no line.
  CHECK(render_folded(p, Weight::Bytes, FoldedGroupBy::Route) ==
        "(no request);main.tick 50\n"
        "GET /items/{id};net/http.serve;main.Logging.func1 2000\n"
        "POST /orders;net/http.serve;main.Logging.func1 1000\n"
        "POST /orders;net/http.serve;main.createOrder 8000\n");
  CHECK(render_folded(p, Weight::InuseBytes, FoldedGroupBy::Route) ==
        "GET /items/{id};net/http.serve;main.Logging.func1 200\n"
        "POST /orders;net/http.serve;main.Logging.func1 100\n"
        "POST /orders;net/http.serve;main.createOrder 1000\n");
  // Shares short of their stack (a broken recording): the rest is kept.
  Profile short_shares = routes_profile();
  short_shares.stacks[1].by_route[0].objects = 30;
  CHECK(render_folded(short_shares, Weight::Objects, FoldedGroupBy::Route).find(
            "(no route recorded);net/http.serve;main.createOrder 10\n") != std::string::npos);
  int64_t kept = 0;
  const pprof::Profile sp = decode(render_pprof_heap(short_shares));
  for (const auto& smp : sp.sample()) kept += smp.value(0);
  CHECK(kept == 75);
  // Without shares: one root for all.
  Profile none = routes_profile();
  for (auto& s : none.stacks) s.by_route.clear();
  CHECK(render_folded(none, Weight::Objects, FoldedGroupBy::Route) ==
        "(no route recorded);main.tick 5\n"
        "(no route recorded);net/http.serve;main.Logging.func1 30\n"
        "(no route recorded);net/http.serve;main.createOrder 40\n");
  // The other groupings are unchanged by routes.
  CHECK(render_folded(p, Weight::Bytes, FoldedGroupBy::Middleware) == render_folded(none, Weight::Bytes, true));
  CHECK(render_folded(p, Weight::Bytes) == render_folded(none, Weight::Bytes));
}

TEST_CASE("routes metrics: per-route series bounded by top like the middleware ones, monotonic, escaped",
          "[serve][routes]") {
  using namespace mws::serve;
  Profile p = routes_profile();
  AllocCounters c(1);
  c.update(p);
  std::map<std::string, RouteSeries> s;
  for (const auto& r : c.route_series()) s[r.route] = r;
  REQUIRE(s.size() == 2);
  CHECK(s["POST /orders"].requests == 4);
  CHECK(s["POST /orders"].objects == 50);
  CHECK(s[kOtherMiddleware].requests == 11);
  CHECK(s[kOtherMiddleware].objects == 25);
  // GET /items outgrows POST: it stays in (other); nothing falls.
  p.routes[0].requests = 100;
  p.stacks[0].by_route[0].objects = 2000;
  p.stacks[0].by_route[0].bytes = 200000;
  c.update(p);
  s.clear();
  for (const auto& r : c.route_series()) s[r.route] = r;
  CHECK(s.size() == 2);
  CHECK(s["POST /orders"].requests == 4);
  CHECK(s[kOtherMiddleware].requests == 101);
  CHECK(s[kOtherMiddleware].objects == 2005);

  AllocCounters wide(5);
  const Profile q = routes_profile();
  wide.update(q);
  TargetMetrics t{{12, "api", ""}, true, &q, &wide, 0.01};
  const std::string text = render_metrics({t}, {}, 5);
  const std::string labels = "pid=\"12\",exe=\"api\"";
  CHECK(text.find("mwscope_route_requests_total{" + labels + ",route=\"GET /items/{id}\"} 10\n") != std::string::npos);
  CHECK(text.find("mwscope_route_alloc_objects_total{" + labels + ",route=\"POST /orders\"} 50\n") !=
        std::string::npos);
  CHECK(text.find("mwscope_route_alloc_bytes_total{" + labels + ",route=\"POST /orders\"} 9000\n") !=
        std::string::npos);
  CHECK(text.find("mwscope_route_goroutines_leaked{" + labels + ",route=\"POST /orders\"} 2\n") != std::string::npos);
  CHECK(text.find("mwscope_route_requests_total{" + labels + ",route=\"GET /evil\x1b[31m\\\"\"} 1\n") !=
        std::string::npos);
  // Leaks of a route without a series of its own go to (other).
  TargetMetrics narrow{{12, "api", ""}, true, &q, &c, 0.01};
  Profile leaky = routes_profile();
  leaky.tasks.groups[0].by_route[0].route = 0;  // GET /items: in (other) for c
  narrow.profile = &leaky;
  CHECK(render_metrics({narrow}, {}, 1).find("mwscope_route_goroutines_leaked{" + labels + ",route=\"(other)\"} 2\n") !=
        std::string::npos);

  // Without routes: no route family at all.
  Profile plain = routes_profile();
  plain.route_summary = RouteSummary{};
  AllocCounters pc(5);
  pc.update(plain);
  TargetMetrics pt{{12, "api", ""}, true, &plain, &pc, 0.01};
  CHECK(render_metrics({pt}, {}, 5).find("mwscope_route_") == std::string::npos);

  // promtool, where installed, finds the exposition clean.
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    const std::string path = "/tmp/mws_routes_metrics_" + std::to_string(::getpid()) + ".prom";
    std::ofstream(path) << text;
    CHECK(std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str()) == 0);
    std::remove(path.c_str());
  }
}

TEST_CASE("routes diff: objects and bytes per request of each route, before and after, one-sided routes marked",
          "[report][diff][routes]") {
  const Profile before = routes_profile();
  Profile after = routes_profile();
  after.routes[0].requests = 20;  // GET /items: 20 objects over 20 requests, 1 per request (was 2)
  after.routes[1].name = "PUT /orders";
  const ProfileDiff d = diff_profiles(before, after);
  REQUIRE(d.routes_known);
  std::map<std::string, RouteChange> by;
  for (const auto& c : d.routes) by[c.name] = c;
  REQUIRE(by.count("GET /items/{id}"));
  CHECK(by["GET /items/{id}"].objects_before == 2);
  CHECK(by["GET /items/{id}"].objects_after == 1);
  CHECK(by["GET /items/{id}"].bytes_after == 100);
  CHECK(by["POST /orders"].in_before);
  CHECK_FALSE(by["POST /orders"].in_after);
  CHECK(by["PUT /orders"].in_after);
  CHECK_FALSE(by["PUT /orders"].in_before);
  const std::string text = render_diff_text(d, before, after, 10);
  INFO(text);
  CHECK(text.find("By route, per request of the route") != std::string::npos);
  CHECK(text.find("-50.0%") != std::string::npos);
  CHECK(text.find("only before") != std::string::npos);
  CHECK(text.find("only after") != std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);

  // One side without routes: no section.
  Profile plain = routes_profile();
  plain.route_summary = RouteSummary{};
  const ProfileDiff none = diff_profiles(before, plain);
  CHECK_FALSE(none.routes_known);
  CHECK(render_diff_text(none, before, plain, 10).find("By route") == std::string::npos);
}

TEST_CASE("routes: a profile with routes reads back from JSON as written, and reports the same", "[report][routes]") {
  const Profile p = routes_profile();
  auto back = parse_profile_json(render_json(p));
  REQUIRE(back);
  CHECK(*back == p);
  if (const char* dump = std::getenv("MWS_DUMP_ROUTES_JSON")) std::ofstream(dump) << render_json(p);
}
