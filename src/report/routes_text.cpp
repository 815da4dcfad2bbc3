#include "report/routes_text.h"

#include <algorithm>

#include <fmt/format.h>

#include "report/routes.h"
#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

constexpr size_t kRouteWidth = 36;

// A route too long for its column keeps its method and the end of its
// path ("GET …/items/{id}"): a route is not a Go symbol, and the package
// rule of shorten_name would cut it at its last slash.
std::string shorten_route(const std::string& name, size_t width) {
  if (name.size() <= width) return name;
  const size_t space = name.find(' ');
  const std::string method = space != std::string::npos && space < 8 ? name.substr(0, space + 1) : "";
  const std::string_view ellipsis = "\u2026";
  const size_t keep = width > method.size() + 1 ? width - method.size() - 1 : 1;
  size_t from = name.size() - std::min(keep, name.size());
  while (from < name.size() && (static_cast<unsigned char>(name[from]) & 0xC0) == 0x80) from++;  // whole UTF-8 characters
  return method + std::string(ellipsis) + name.substr(from);
}
constexpr size_t kMiddlewareWidth = 28;

// "-" for a route without requests (a pseudo-route): nothing to divide by.
std::string per_request(const RouteTotals& r, double v, bool bytes) {
  if (r.requests == 0) return "-";
  if (bytes) return human_bytes(v);
  return v < 100 ? fmt::format("{:.2f}", v) : grouped(static_cast<uint64_t>(v + 0.5));
}

void render_summary(std::string& out, const Profile& p) {
  const RouteSummary& s = p.route_summary;
  for (const auto& r : s.refused) out += "  router not probed: " + clip_end(printable(r), 100) + "\n";
  if (s.truncated || s.read_errors || s.over_cap)
    out += fmt::format("  of {} route events: {} with the pattern cut, {} unreadable, {} past the cap on distinct "
                       "routes (counted in {})\n",
                       grouped(s.route_events), grouped(s.truncated), grouped(s.read_errors), grouped(s.over_cap),
                       kRouteOther);
  if (s.no_room)
    out += fmt::format("  {} request(s) found no room for their state in the kernel: their work counts as {}\n",
                       grouped(s.no_room), kRouteNoRequest);
  // Sampled mode without the requests probe: a request answered before any
  // router ran (a 401 from a middleware) reaches no trap.
  if (!p.requests.counted)
    out += fmt::format("  {} requests: only those a router saw (404, 405); requests answered before routing "
                       "are counted with --requests (one more trap per request)\n",
                       kRouteNone);
}

}  // namespace

std::string render_routes_text(const Profile& p, size_t top_n) {
  std::string out;
  const RouteSummary& s = p.route_summary;
  if (!s.recorded) {
    if (!s.unavailable.empty()) out += "\nBy route: not recorded (" + printable(s.unavailable) + ")\n";
    return out;
  }
  const std::vector<RouteTotals> rows = route_totals(p);
  std::vector<std::string> routers;
  for (const auto& r : s.routers) routers.push_back(printable(r));
  out += "\nBy route (the route of the request each allocating or spawning goroutine served)\n";
  out += "  routers: " + (routers.empty() ? std::string("none found") : fit_list(routers, ", ", 100)) + "\n";
  if (!p.meta.allocations_tracked) out += "  allocations not recorded: per-request columns show -\n";
  const bool sampled = p.sampled();
  const bool inuse = p.inuse_known();
  if (sampled) out += "  objects and bytes per request are estimates from the raw samples beside them\n";
  auto samples = [&](const std::string& v) { return sampled ? fmt::format("  {:>9}", v) : std::string(); };
  auto heap = [&](const std::string& v) { return inuse ? fmt::format("  {:>10}", v) : std::string(); };
  out += fmt::format("  {:>3}  {}  {:>9}  {:>9}  {:>10}{}{}  {:>7}  {}\n", "#", pad("route", kRouteWidth), "requests",
                     "objs/req", "bytes/req", samples("samples"), heap("heap*"), "leaked", "top middleware");
  const size_t shown = top_n ? std::min(top_n, rows.size()) : rows.size();
  for (size_t i = 0; i < shown; i++) {
    const RouteTotals& r = rows[i];
    const bool allocs = p.meta.allocations_tracked;
    out += fmt::format("  {:>3}  {}  {:>9}  {:>9}  {:>10}{}{}  {:>7}  {}\n", i + 1,
                       pad(shorten_route(printable(r.name), kRouteWidth), kRouteWidth), grouped(r.requests),
                       allocs ? per_request(r, r.objects_per_request(), false) : "-",
                       allocs ? per_request(r, r.bytes_per_request(), true) : "-", samples(grouped(r.samples)),
                       heap(human_bytes(uint64_t(std::max<int64_t>(r.inuse_bytes, 0)))), grouped(r.leaked_tasks),
                       r.top_middleware.empty() ? "-" : shorten_name(printable(r.top_middleware), kMiddlewareWidth));
  }
  if (rows.size() > shown) out += fmt::format("  ... {} more\n", rows.size() - shown);
  if (inuse)
    out += "  * heap in use as of the last GC, apportioned: each stack's in-use bytes split by its routes' shares of "
           "its objects\n";
  if (!p.tasks.tracked) out += "  leaked: goroutine creation not tracked, 0 throughout\n";
  if (std::any_of(rows.begin(), rows.end(), [](const RouteTotals& r) { return r.name == kRouteNoRequest; }))
    out += fmt::format("  {}: work outside every request's handler: background goroutines, and net/http reading the "
                       "next request and finishing the last on each connection\n",
                       kRouteNoRequest);
  render_summary(out, p);
  return out;
}

}  // namespace mws
