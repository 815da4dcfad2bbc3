// Route events and route tags (bpf/events.h, "Routes") on hand-made
// events: names, the innermost router, requests per route, and what a
// hostile target can make of them.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "collect/event_decoder.h"
#include "model/route_tracker.h"

using namespace mws;
using model::RouteTracker;

namespace {

mws_route_event route_event(uint32_t router, uint32_t method, std::vector<std::string> segments, uint64_t id,
                            uint64_t serial, uint32_t flags = 0) {
  mws_route_event e{};
  e.hdr.kind = MWS_EV_ROUTE;
  e.router = router;
  e.method = method;
  e.route_id = id;
  e.serial = serial;
  e.route_flags = flags;
  e.segments = static_cast<uint32_t>(segments.size());
  for (size_t i = 0; i < segments.size() && i < MWS_ROUTE_MAX_SEGMENTS; i++) {
    const size_t n = std::min<size_t>(segments[i].size(), MWS_ROUTE_SEGMENT_BYTES);
    std::memcpy(e.segment[i], segments[i].data(), n);
    e.segment_len[i] = static_cast<uint32_t>(n);
  }
  return e;
}

const std::string& name_of(const RouteTracker& t, model::RouteIndex i) { return t.routes().at(i).name; }

constexpr uint64_t pending(uint64_t serial) { return MWS_ROUTE_TAG_PENDING | serial; }

}  // namespace

TEST_CASE("route names: the pattern, after the method unless the pattern names one", "[routes]") {
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_SERVEMUX, MWS_METHOD_GET, {"GET /items/{id}"}, 7, 1)) ==
        "GET /items/{id}");
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_SERVEMUX, MWS_METHOD_POST, {"/users"}, 7, 1)) ==
        "POST /users");
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_GIN, MWS_METHOD_DELETE, {"/items/:id"}, 7, 1)) ==
        "DELETE /items/:id");
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_GIN, MWS_METHOD_OTHER, {"/x"}, 7, 1)) == "OTHER /x");
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_GORILLA, MWS_METHOD_UNKNOWN, {"/x"}, 7, 1)) == "/x");
  // chi's mounted routers, joined as chi's RoutePattern() joins them.
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_CHI, MWS_METHOD_GET, {"/api/*", "/users/{name}"}, 7, 1)) ==
        "GET /api/users/{name}");
}

TEST_CASE("route names escape what the target wrote, and say when it was cut", "[routes]") {
  const std::string hostile = std::string("/a\x1b[2J\n\xff", 8);
  CHECK(RouteTracker::route_name(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {hostile}, 7, 1)) ==
        "GET /a\\x1b[2J\\x0a\\xff");
  auto e = route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {std::string(MWS_ROUTE_SEGMENT_BYTES, 'a')}, 7, 1,
                       MWS_ROUTE_FLAG_TRUNCATED);
  CHECK(RouteTracker::route_name(e).ends_with("a..."));
  // Lengths past the buffers are not trusted.
  e.segment_len[0] = 1u << 30;
  e.segments = 1000;
  CHECK(RouteTracker::route_name(e).size() < 200);
}

TEST_CASE("tags resolve to their request's route, before and after the router ran", "[routes]") {
  RouteTracker t;
  t.on_route(route_event(MWS_ROUTER_SERVEMUX, MWS_METHOD_GET, {"GET /items/{id}"}, 1000, 5));
  t.on_route(route_event(MWS_ROUTER_SERVEMUX, MWS_METHOD_GET, {}, MWS_ROUTE_ID_NONE, 6, MWS_ROUTE_FLAG_NO_MATCH));
  // After the router: the route's id; before it: the request's serial.
  CHECK(name_of(t, t.route_of(1000, true)) == "GET /items/{id}");
  CHECK(name_of(t, t.route_of(pending(5), true)) == "GET /items/{id}");
  CHECK(name_of(t, t.route_of(pending(6), true)) == mws::kRouteNone);
  CHECK(name_of(t, t.route_of(MWS_ROUTE_ID_NONE, true)) == mws::kRouteNone);
  // A request no router saw (rejected before routing).
  CHECK(name_of(t, t.route_of(pending(7), true)) == mws::kRouteNone);
  // Outside serverHandler.ServeHTTP the goroutine's own tag is stale...
  CHECK(name_of(t, t.route_of(1000, false)) == mws::kRouteNoRequest);
  CHECK(name_of(t, t.route_of(0, true)) == mws::kRouteNoRequest);
  // ... but a goroutine the request started carries it anywhere.
  CHECK(name_of(t, t.route_of(1000 | MWS_ROUTE_TAG_INHERITED, false)) == "GET /items/{id}");
  CHECK(name_of(t, t.route_of(pending(5) | MWS_ROUTE_TAG_INHERITED, false)) == "GET /items/{id}");
  // An id whose event was lost.
  CHECK(name_of(t, t.route_of(4242, true)) == mws::kRouteLost);
  CHECK(t.routed(5));
  CHECK(t.routed(6));
  CHECK_FALSE(t.routed(7));
}

TEST_CASE("the innermost router wins over a ServeMux subtree pattern", "[routes]") {
  RouteTracker t;
  // DefaultServeMux "/" -> gin "/items/:id": the mux's match is provisional.
  t.on_route(route_event(MWS_ROUTER_SERVEMUX_PATH, MWS_METHOD_GET, {"/"}, 10, 1, MWS_ROUTE_FLAG_PROVISIONAL));
  t.on_route(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/items/:id"}, 20, 1));
  // A request the framework did not know: the mux's route stands.
  t.on_route(route_event(MWS_ROUTER_SERVEMUX_PATH, MWS_METHOD_GET, {"/"}, 10, 2, MWS_ROUTE_FLAG_PROVISIONAL));
  // A later provisional match does not undo a definitive one.
  t.on_route(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/items/:id"}, 20, 3));
  t.on_route(route_event(MWS_ROUTER_SERVEMUX_PATH, MWS_METHOD_GET, {"/"}, 10, 3, MWS_ROUTE_FLAG_PROVISIONAL));
  CHECK(name_of(t, t.route_of(pending(1), true)) == "GET /items/:id");
  CHECK(name_of(t, t.route_of(pending(2), true)) == "GET /");
  CHECK(name_of(t, t.route_of(pending(3), true)) == "GET /items/:id");
  CHECK_FALSE(t.routed(2));
  t.count_requests(4);  // request 4 reached no router
  std::map<std::string, uint64_t> requests;
  for (const auto& r : t.routes()) requests[r.name] = r.requests;
  CHECK(requests["GET /items/:id"] == 2);
  CHECK(requests["GET /"] == 1);
  CHECK(requests[std::string(mws::kRouteNone)] == 1);
}

TEST_CASE("a target cannot grow the route table past its cap", "[routes]") {
  RouteTracker t;
  for (uint64_t i = 0; i < RouteTracker::kMaxRoutes + 50; i++)
    t.on_route(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/r" + std::to_string(i)}, 100 + i, i + 1));
  CHECK(t.routes().size() <= RouteTracker::kMaxRoutes + 1);
  CHECK(t.over_cap() == 50);
  CHECK(name_of(t, t.route_of(pending(RouteTracker::kMaxRoutes + 10), true)) == mws::kRouteOther);
  // One route reached through several ids (two copies of a pattern) is one name.
  RouteTracker u;
  u.on_route(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/same"}, 1000, 1));
  u.on_route(route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/same"}, 2000, 2));
  CHECK(u.routes().size() == 1);
}

TEST_CASE("the decoder passes route events and tags through", "[routes]") {
  model::Aggregator agg;
  model::SampleTracker samples;
  model::TaskTracker tasks;
  RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  auto e = route_event(MWS_ROUTER_SERVEMUX, MWS_METHOD_GET, {"GET /a"}, 1000, 1);
  dec.decode(&e, mws_route_event_bytes(1, 6));  // as on_route sends it
  dec.decode(&e, offsetof(mws_route_event, segment) - 1);  // short: malformed, not read
  CHECK(routes.events() == 1);
  CHECK(dec.stats().malformed == 1);

  mws_alloc_event a{};
  a.hdr.kind = MWS_EV_SAMPLE_ALLOC;
  a.size = 64;
  a.caller = 0x401000;
  a.stack_len = 2;
  a.stack[1] = 0x402000;
  a.route_tag = pending(1);
  dec.decode(&a, offsetof(mws_alloc_event, stack) + 2 * sizeof(uint64_t));
  uint64_t tagged = 0;
  samples.for_each_with_route_tag([&](const model::ContextKey& k, const model::SampleCounts& c) {
    CHECK(k.ctx == pending(1));
    tagged += c.samples;
  });
  CHECK(tagged == 1);
}

TEST_CASE("the decoder reads a route record up to its last segment's bytes, never past them", "[routes]") {
  model::Aggregator agg;
  model::SampleTracker samples;
  model::TaskTracker tasks;
  RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& r : routes.routes()) out.push_back(r.name);
    return out;
  };
  auto has = [&](const std::string& name) {
    const auto all = names();
    return std::find(all.begin(), all.end(), name) != all.end();
  };
  // A match with no segment: the fixed fields alone.
  auto none = route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {}, MWS_ROUTE_ID_NONE, 1, MWS_ROUTE_FLAG_NO_MATCH);
  CHECK(mws_route_event_bytes(0, 0) == offsetof(mws_route_event, segment));
  dec.decode(&none, mws_route_event_bytes(0, 0));
  // chi's two segments: the first whole, the second's 13 bytes.
  auto chi = route_event(MWS_ROUTER_CHI, MWS_METHOD_GET, {"/api/*", "/users/{name}"}, 2000, 2);
  CHECK(mws_route_event_bytes(2, 13) == offsetof(mws_route_event, segment) + MWS_ROUTE_SEGMENT_BYTES + 13);
  dec.decode(&chi, mws_route_event_bytes(2, 13));
  CHECK(has("GET /api/users/{name}"));
  // A record that ends inside its last segment (the kernel never sends
  // one, a corrupt ring might): the bytes past its end are not read.
  auto cut = route_event(MWS_ROUTER_GIN, MWS_METHOD_GET, {"/items/:id"}, 3000, 3);
  std::memset(cut.segment[0] + 10, 'X', MWS_ROUTE_SEGMENT_BYTES - 10);
  cut.segment_len[0] = MWS_ROUTE_SEGMENT_BYTES;
  dec.decode(&cut, mws_route_event_bytes(1, 10));
  CHECK(has("GET /items/:id"));
  for (const auto& n : names()) CHECK(n.find('X') == std::string::npos);
  CHECK(routes.events() == 3);
  CHECK(dec.stats().malformed == 0);
}
