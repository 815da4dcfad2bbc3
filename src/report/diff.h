// Two recordings side by side: what changed per middleware, per site and
// in the leaked goroutines. The question after a fix: "did allocations per
// request drop from 127 to 3?", and the release gate (--fail-over).
#pragma once

#include <string>
#include <vector>

#include "model/profile.h"
#include "util/result.h"

namespace mws {

// Rates are per request when both recordings counted requests, else per
// second of recording: a diff of totals would compare recording lengths.
enum class DiffUnit { Request, Second };

struct RateChange {
  std::string name;  // a middleware ("main.Logging") or a site's function
  double objects_before = 0, objects_after = 0;  // per unit
  double bytes_before = 0, bytes_after = 0;
  // Change of objects per unit in percent of before; +infinity when it is
  // new (nothing before), -100 when it went away.
  double objects_change_pct() const;
};

struct LeakChange {
  std::string start_function;  // the goroutines' start function
  std::string parked_in;       // the first non-runtime frame they are parked in
  uint64_t leaked_before = 0, leaked_after = 0;
};

// One route in either recording: objects and bytes per request of that
// route (its own requests), before and after.
struct RouteChange {
  std::string name;
  bool in_before = false, in_after = false;  // false: the route is only in the other recording
  uint64_t requests_before = 0, requests_after = 0;  // 0: per-request figures unknown (a pseudo-route)
  double objects_before = 0, objects_after = 0;  // per request of the route
  double bytes_before = 0, bytes_after = 0;
};

struct ProfileDiff {
  DiffUnit unit = DiffUnit::Second;
  std::vector<RateChange> middleware;  // every middleware of either, most changed (bytes) first
  std::vector<RateChange> sites;       // allocation sites by function, most changed (bytes) first
  std::vector<LeakChange> leaks;       // groups leaked in either, most changed first
  bool leaks_known = false;            // both recordings read the goroutines
  std::vector<RouteChange> routes;     // both recorded routes: every route of either, most changed (bytes/request) first
  bool routes_known = false;           // both recordings recorded routes
};

// Both profiles attributed (attribute::attribute_profile) with the same rules.
ProfileDiff diff_profiles(const Profile& before, const Profile& after);

std::string render_diff_text(const ProfileDiff& diff, const Profile& before, const Profile& after, size_t top_n);

// The middleware whose objects per request grew by more than `pct` percent
// (a new one counts as infinite growth), for --fail-over. Fails when the
// rates are not per request: a release gate on per-second rates would gate
// on the load, not the code.
Result<std::vector<std::string>> grown_over(const ProfileDiff& diff, double pct);
// Those middleware with their change, for the gate's message:
// "main.Logging (+100.0%), main.New (new)".
std::string describe_changes(const ProfileDiff& diff, const std::vector<std::string>& middleware);

}  // namespace mws
