#include "report/diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "report/routes.h"
#include "report/text.h"
#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

double per_unit(uint64_t count, const Profile& p, DiffUnit unit) {
  const double denominator = unit == DiffUnit::Request ? double(p.requests.requests) : p.meta.duration_s;
  return denominator > 0 ? double(count) / denominator : 0;
}

void sort_by_bytes_change(std::vector<RateChange>& v) {
  std::stable_sort(v.begin(), v.end(), [](const RateChange& a, const RateChange& b) {
    return std::fabs(a.bytes_after - a.bytes_before) > std::fabs(b.bytes_after - b.bytes_before);
  });
}

// Three significant digits: 0.00213 and 127 alike.
std::string rate_text(double v) {
  if (v == 0) return "0";
  if (std::fabs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:.3g}", v);
}

std::string pct_text(const RateChange& c) {
  const double pct = c.objects_change_pct();
  if (std::isinf(pct)) return "new";
  if (c.objects_after == 0 && c.objects_before > 0) return "gone";
  return fmt::format("{:+.1f}%", pct);
}

std::string recording_line(const Profile& p) {
  return fmt::format("pid {} {} ({}), {} mode, {} over {}{}", p.meta.pid, printable(p.meta.executable),
                     printable(p.meta.go_version), printable(p.meta.mode), utc_time(p.meta.started_unix_ns),
                     duration(p.meta.duration_s),
                     p.requests.counted ? fmt::format(", {} requests", grouped(p.requests.requests)) : "");
}

void render_rates(std::string& out, const std::vector<RateChange>& rows, const char* what, const char* unit,
                  size_t top_n) {
  const size_t shown = std::min(top_n ? top_n : rows.size(), rows.size());
  out += fmt::format("  {:<44} {:>11} {:>11} {:>8} {:>11} {:>11}\n", what, fmt::format("objects/{}", unit), "after",
                     "change", fmt::format("bytes/{}", unit), "after");
  for (size_t i = 0; i < shown; i++) {
    const RateChange& c = rows[i];
    out += fmt::format("  {:<44} {:>11} {:>11} {:>8} {:>11} {:>11}\n", shorten_name(printable(c.name), 44),
                       rate_text(c.objects_before), rate_text(c.objects_after), pct_text(c),
                       human_bytes(c.bytes_before), human_bytes(c.bytes_after));
  }
  if (rows.size() > shown) out += fmt::format("  ... {} more\n", rows.size() - shown);
}

// Per route: objects and bytes per request of that route's own requests;
// a route only one recording has is marked, a pseudo-route (no requests) shows -.
void render_routes(std::string& out, const ProfileDiff& d, size_t top_n) {
  out += "\nBy route, per request of the route\n";
  if (d.routes.empty()) {
    out += "  no route in either recording\n";
    return;
  }
  const size_t shown = std::min(top_n ? top_n : d.routes.size(), d.routes.size());
  out += fmt::format("  {:<40} {:>11} {:>11} {:>8} {:>11} {:>11}\n", "route", "objects/req", "after", "change",
                     "bytes/req", "after");
  for (size_t i = 0; i < shown; i++) {
    const RouteChange& c = d.routes[i];
    auto objects = [](bool in, uint64_t requests, double v) { return in && requests ? rate_text(v) : std::string("-"); };
    auto bytes = [](bool in, uint64_t requests, double v) { return in && requests ? human_bytes(v) : std::string("-"); };
    std::string change = "-";
    if (c.in_before && c.in_after && c.requests_before && c.requests_after) {
      RateChange r;
      r.objects_before = c.objects_before;
      r.objects_after = c.objects_after;
      change = pct_text(r);
    }
    const char* note = !c.in_before ? "only after" : !c.in_after ? "only before" : "";
    std::string line = fmt::format("  {:<40} {:>11} {:>11} {:>8} {:>11} {:>11}  {}", pad(shorten_name(printable(c.name), 40), 40),
                       objects(c.in_before, c.requests_before, c.objects_before),
                       objects(c.in_after, c.requests_after, c.objects_after), change,
                       bytes(c.in_before, c.requests_before, c.bytes_before),
                       bytes(c.in_after, c.requests_after, c.bytes_after), note);
    while (line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  if (d.routes.size() > shown) out += fmt::format("  ... {} more\n", d.routes.size() - shown);
}

}  // namespace

double RateChange::objects_change_pct() const {
  if (objects_before == 0) return objects_after == 0 ? 0 : std::numeric_limits<double>::infinity();
  return (objects_after - objects_before) / objects_before * 100;
}

ProfileDiff diff_profiles(const Profile& before, const Profile& after) {
  ProfileDiff d;
  d.unit = before.requests.counted && after.requests.counted && before.requests.requests > 0 &&
                   after.requests.requests > 0
               ? DiffUnit::Request
               : DiffUnit::Second;

  std::map<std::string, RateChange> mw;
  auto add_middleware = [&](const Profile& p, bool is_after) {
    for (const MiddlewareRow& r : p.middleware) {
      RateChange& c = mw[r.name];
      c.name = r.name;
      (is_after ? c.objects_after : c.objects_before) = per_unit(r.objects, p, d.unit);
      (is_after ? c.bytes_after : c.bytes_before) = per_unit(r.bytes, p, d.unit);
    }
  };
  add_middleware(before, false);
  add_middleware(after, true);
  for (auto& [_, c] : mw) d.middleware.push_back(c);
  sort_by_bytes_change(d.middleware);

  std::map<std::string, RateChange> sites;
  auto add_sites = [&](const Profile& p, bool is_after) {
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_function;  // objects, bytes
    for (const AllocationSite& s : allocation_sites(p, Weight::Bytes)) {
      auto& [objects, bytes] = by_function[s.frame.function];
      objects += s.objects;
      bytes += s.bytes;
    }
    for (const auto& [fn, counts] : by_function) {
      RateChange& c = sites[fn];
      c.name = fn;
      (is_after ? c.objects_after : c.objects_before) = per_unit(counts.first, p, d.unit);
      (is_after ? c.bytes_after : c.bytes_before) = per_unit(counts.second, p, d.unit);
    }
  };
  add_sites(before, false);
  add_sites(after, true);
  for (auto& [_, c] : sites)
    if (c.bytes_before != c.bytes_after || c.objects_before != c.objects_after) d.sites.push_back(c);
  sort_by_bytes_change(d.sites);

  d.leaks_known = before.goroutines.read && after.goroutines.read;
  std::map<std::pair<std::string, std::string>, LeakChange> leaks;
  auto add_leaks = [&](const Profile& p, bool is_after) {
    for (const GoroutineGroup& g : p.goroutines.groups) {
      if (g.leaked == 0) continue;
      LeakChange& c = leaks[{g.start_function, parked_function(p, g)}];
      c.start_function = g.start_function;
      c.parked_in = parked_function(p, g);
      (is_after ? c.leaked_after : c.leaked_before) += g.leaked;
    }
  };
  add_leaks(before, false);
  add_leaks(after, true);
  for (auto& [_, c] : leaks) d.leaks.push_back(c);
  std::stable_sort(d.leaks.begin(), d.leaks.end(), [](const LeakChange& a, const LeakChange& b) {
    auto change = [](const LeakChange& c) { return std::llabs(int64_t(c.leaked_after) - int64_t(c.leaked_before)); };
    return change(a) > change(b);
  });

  d.routes_known = before.route_summary.recorded && after.route_summary.recorded;
  if (d.routes_known) {
    std::map<std::string, RouteChange> routes;
    for (const bool is_after : {false, true})
      for (const RouteTotals& r : route_totals(is_after ? after : before)) {
        RouteChange& c = routes[r.name];
        c.name = r.name;
        (is_after ? c.in_after : c.in_before) = true;
        (is_after ? c.requests_after : c.requests_before) = r.requests;
        (is_after ? c.objects_after : c.objects_before) = r.objects_per_request();
        (is_after ? c.bytes_after : c.bytes_before) = r.bytes_per_request();
      }
    for (auto& [_, c] : routes) d.routes.push_back(c);
    std::stable_sort(d.routes.begin(), d.routes.end(), [](const RouteChange& a, const RouteChange& b) {
      return std::fabs(a.bytes_after - a.bytes_before) > std::fabs(b.bytes_after - b.bytes_before);
    });
  }
  return d;
}

std::string render_diff_text(const ProfileDiff& d, const Profile& before, const Profile& after, size_t top_n) {
  std::string out = "mwscope diff\n";
  out += "  before  " + recording_line(before) + "\n";
  out += "  after   " + recording_line(after) + "\n";
  const char* unit = d.unit == DiffUnit::Request ? "req" : "s";
  if (d.unit == DiffUnit::Second)
    out += "  rates are per second of recording: requests were not counted in both (record with --requests)\n";
  if (before.meta.mode != after.meta.mode)
    out += "  the modes differ: sampled-mode figures are estimates, exact-mode ones counts\n";
  for (const Profile* p : {&before, &after})
    if (p->meta.dropped_events)
      out += fmt::format("  {} lost {} events: its figures are too low\n", p == &before ? "before" : "after",
                         grouped(p->meta.dropped_events));

  out += fmt::format("\nAllocations by middleware (self), per {}\n", d.unit == DiffUnit::Request ? "request" : "second");
  if (d.middleware.empty()) out += "  none in either recording\n";
  else render_rates(out, d.middleware, "middleware", unit, 0);

  out += "\nSites that changed most (by function)\n";
  if (d.sites.empty()) out += "  none changed\n";
  else render_rates(out, d.sites, "site", unit, top_n);

  if (d.routes_known) render_routes(out, d, top_n);

  out += "\nLeaked goroutines\n";
  if (!d.leaks_known) {
    out += "  unknown: the goroutines were not read in both recordings\n";
  } else if (d.leaks.empty()) {
    out += "  none in either recording\n";
  } else {
    out += fmt::format("  {:>7} {:>7}  {:<9} {}\n", "before", "after", "", "start function / parked in");
    for (const LeakChange& c : d.leaks) {
      const char* verdict = c.leaked_before == 0 ? "appeared" : c.leaked_after == 0 ? "went away"
                            : c.leaked_after > c.leaked_before                      ? "grew"
                            : c.leaked_after < c.leaked_before                      ? "shrank"
                                                                                    : "same";
      out += fmt::format("  {:>7} {:>7}  {:<9} {} / {}\n", grouped(c.leaked_before), grouped(c.leaked_after), verdict,
                         shorten_name(printable(c.start_function), 40), shorten_name(printable(c.parked_in), 40));
    }
  }
  return out;
}

Result<std::vector<std::string>> grown_over(const ProfileDiff& d, double pct) {
  if (d.unit != DiffUnit::Request)
    return Error{"--fail-over compares objects per request, and requests were not counted in both recordings "
                 "(record with --requests, or --mode exact)"};
  std::vector<std::string> out;
  for (const RateChange& c : d.middleware)
    if (c.objects_change_pct() > pct) out.push_back(c.name);
  return out;
}

std::string describe_changes(const ProfileDiff& d, const std::vector<std::string>& middleware) {
  std::string out;
  for (const RateChange& c : d.middleware)
    if (std::find(middleware.begin(), middleware.end(), c.name) != middleware.end())
      out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", c.name, pct_text(c));
  return out;
}

}  // namespace mws
