// Allocation counters per middleware and per route for Prometheus: counters
// never go back, and a target has at most `top` named series plus "(other)"
// in each.
//
// Each snapshot gives every middleware's (route's) total since attach. What
// grew since the last snapshot is added to that name's series when it has
// one, to "(other)" otherwise; a name gets its own series, from then on,
// while fewer than `top` are named (heaviest first). So each series only
// grows, the named set never churns, and the series sum to the totals.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/profile.h"

namespace mws::serve {

inline constexpr const char* kOtherMiddleware = "(other)";

// Monotonic counts under at most `top` names plus "(other)" (see above).
class BoundedCounters {
 public:
  struct Counts {
    uint64_t objects = 0, bytes = 0, requests = 0;
  };
  struct Series {
    std::string name;
    Counts counts;
  };
  explicit BoundedCounters(size_t top) : top_(top) {}
  // Every name's totals since attach, in one snapshot; names are given
  // series heaviest (bytes) first.
  void update(const std::vector<Series>& totals);
  // The named series, heaviest first, then "(other)".
  std::vector<Series> series() const;
  bool named(const std::string& name) const { return series_.count(name) > 0; }

 private:
  size_t top_;
  std::map<std::string, Counts> last_total_;  // per name, as of the last snapshot
  std::map<std::string, Counts> series_;      // named
  Counts other_;
};

struct AllocSeries {
  std::string middleware;
  uint64_t objects = 0, bytes = 0;
};

struct RouteSeries {
  std::string route;
  uint64_t requests = 0, objects = 0, bytes = 0;
};

class AllocCounters {
 public:
  explicit AllocCounters(size_t top) : middleware_(top), routes_(top) {}
  // An attributed snapshot (attribute_profile): Profile::middleware's self
  // counts, and with routes recorded each route's requests and allocations.
  void update(const Profile& profile);
  // The named series, heaviest first, then "(other)".
  std::vector<AllocSeries> series() const;
  std::vector<RouteSeries> route_series() const;
  bool named(const std::string& middleware) const { return middleware_.named(middleware); }
  bool named_route(const std::string& route) const { return routes_.named(route); }

 private:
  BoundedCounters middleware_, routes_;
};

}  // namespace mws::serve
