// Per-route figures every report shares (issue 29): a Profile's routes with
// what their requests allocated, the heap their stacks hold and the
// goroutines they leaked, summed once from ProfileStack::by_route and
// TaskGroup::by_route. Empty unless profile.route_summary.recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/profile.h"

namespace mws {

struct RouteTotals {
  uint32_t index = 0;         // into Profile::routes
  std::string name;           // as the target named it (untrusted: escape before printing)
  uint64_t requests = 0;      // 0 for pseudo-routes ("(no request)")
  uint64_t objects = 0, bytes = 0;  // sampled: estimates
  uint64_t samples = 0;             // sampled: raw
  // The stacks' inuse_bytes split by each stack's by_route share of its
  // objects: apportioned, not measured (the runtime's heap profile knows no
  // requests).
  int64_t inuse_bytes = 0;
  uint64_t live_tasks = 0, leaked_tasks = 0;  // TaskGroup::by_route
  std::string top_middleware;  // the middleware with the most bytes among the route's shares; "" if none
  double objects_per_request() const { return requests ? double(objects) / double(requests) : 0; }
  double bytes_per_request() const { return requests ? double(bytes) / double(requests) : 0; }
};

// Every route of the profile (those with nothing allocated or leaked too),
// most bytes first, then by name. Shares naming no route are left out.
std::vector<RouteTotals> route_totals(const Profile& profile);

// v * part / whole without overflow, rounded down; 0 when whole is 0.
uint64_t apportion(uint64_t v, uint64_t part, uint64_t whole);
int64_t apportion(int64_t v, uint64_t part, uint64_t whole);

// A stack's in-use bytes (or objects) split over its by_route shares by
// their objects: one value per share, summing to `inuse` exactly (the last
// share takes what rounding left); when no share has objects, the first
// holds it all.
std::vector<int64_t> split_inuse(const ProfileStack& stack, int64_t inuse);

// The name of a route share's route; "" when the index is out of range.
const std::string& route_name(const Profile& profile, uint32_t route);

}  // namespace mws
