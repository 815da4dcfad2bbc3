// Allocation counters per middleware for Prometheus: counters never go
// back, and a target has at most `top` named series plus "(other)".
//
// Each snapshot gives every middleware's total since attach. What grew
// since the last snapshot is added to that middleware's series when it has
// one, to "(other)" otherwise; a middleware gets its own series, from then
// on, while fewer than `top` are named (heaviest first). So each series only
// grows, the named set never churns, and the series sum to the totals.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/profile.h"

namespace mws::serve {

inline constexpr const char* kOtherMiddleware = "(other)";

struct AllocSeries {
  std::string middleware;
  uint64_t objects = 0, bytes = 0;
};

class AllocCounters {
 public:
  explicit AllocCounters(size_t top) : top_(top) {}
  // An attributed snapshot (attribute_profile): Profile::middleware's self counts.
  void update(const Profile& profile);
  // The named series, heaviest first, then "(other)".
  std::vector<AllocSeries> series() const;
  bool named(const std::string& middleware) const { return series_.count(middleware) > 0; }

 private:
  size_t top_;
  std::map<std::string, AllocSeries> last_total_;  // per middleware, as of the last snapshot
  std::map<std::string, AllocSeries> series_;      // named
  AllocSeries other_{kOtherMiddleware, 0, 0};
};

}  // namespace mws::serve
