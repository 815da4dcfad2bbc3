#include "report/routes.h"

#include <algorithm>
#include <map>

#include "util/saturating.h"

namespace mws {

uint64_t apportion(uint64_t v, uint64_t part, uint64_t whole) {
  if (whole == 0) return 0;
  const unsigned __int128 r = static_cast<unsigned __int128>(v) * std::min(part, whole) / whole;
  return static_cast<uint64_t>(r);
}

int64_t apportion(int64_t v, uint64_t part, uint64_t whole) {
  if (whole == 0) return 0;
  const __int128 r = static_cast<__int128>(v) * static_cast<__int128>(std::min(part, whole)) / whole;
  return static_cast<int64_t>(r);
}

std::vector<int64_t> split_inuse(const ProfileStack& s, int64_t inuse) {
  std::vector<int64_t> out(s.by_route.size(), 0);
  uint64_t whole = 0;
  for (const RouteShare& r : s.by_route) whole = sat_add(whole, r.objects);
  if (out.empty()) return out;
  if (whole == 0) {  // shares of nothing allocated: the first one holds it
    out[0] = inuse;
    return out;
  }
  int64_t left = inuse;
  size_t last = 0;
  for (size_t i = 0; i < s.by_route.size(); i++) {
    if (s.by_route[i].objects == 0) continue;
    out[i] = apportion(inuse, s.by_route[i].objects, whole);
    left -= out[i];
    last = i;
  }
  out[last] += left;
  return out;
}

const std::string& route_name(const Profile& p, uint32_t route) {
  static const std::string none;
  return route < p.routes.size() ? p.routes[route].name : none;
}

std::vector<RouteTotals> route_totals(const Profile& p) {
  std::vector<RouteTotals> out;
  if (!p.route_summary.recorded) return out;
  out.resize(p.routes.size());
  std::vector<std::map<std::string, uint64_t>> middleware_bytes(p.routes.size());
  for (uint32_t i = 0; i < p.routes.size(); i++) {
    out[i].index = i;
    out[i].name = p.routes[i].name;
    out[i].requests = p.routes[i].requests;
  }
  for (const ProfileStack& s : p.stacks) {
    const std::vector<int64_t> inuse = split_inuse(s, s.inuse_bytes);
    for (size_t k = 0; k < s.by_route.size(); k++) {
      const RouteShare& r = s.by_route[k];
      if (r.route >= out.size()) continue;
      RouteTotals& t = out[r.route];
      t.objects = sat_add(t.objects, r.objects);
      t.bytes = sat_add(t.bytes, r.bytes);
      t.samples = sat_add(t.samples, r.samples);
      t.inuse_bytes = sat_add(t.inuse_bytes, inuse[k]);
      if (!s.middleware.empty() && r.bytes > 0) {
        uint64_t& b = middleware_bytes[r.route][s.middleware];
        b = sat_add(b, r.bytes);
      }
    }
  }
  for (const TaskGroup& g : p.tasks.groups)
    for (const RouteTaskCount& c : g.by_route) {
      if (c.route >= out.size()) continue;
      out[c.route].live_tasks = sat_add(out[c.route].live_tasks, c.live);
      out[c.route].leaked_tasks = sat_add(out[c.route].leaked_tasks, c.leaked);
    }
  for (size_t i = 0; i < out.size(); i++) {
    uint64_t best = 0;
    for (const auto& [name, bytes] : middleware_bytes[i])  // by name: ties go to the first
      if (bytes > best) {
        best = bytes;
        out[i].top_middleware = name;
      }
  }
  std::stable_sort(out.begin(), out.end(), [](const RouteTotals& a, const RouteTotals& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.leaked_tasks != b.leaked_tasks) return a.leaked_tasks > b.leaked_tasks;
    return a.name < b.name;
  });
  return out;
}

}  // namespace mws
