#include "attribute/leak_verdict.h"

#include <algorithm>

namespace mws::attribute {

void decide_group(GoroutineGroup& g, bool request_code) {
  g.origin = request_code ? "request" : "start-up";
  g.leaked = g.leaked_before_attach = g.leaked_unreachable = g.leaked_go_says = g.leaked_per_request = 0;
  g.in_flight = g.long_lived = g.suspect = 0;
  const bool grew = g.count > g.at_attach;
  for (const GoroutineEvidence& e : g.evidence) {
    const bool per_request = e.blocked_long && (e.from_request || request_code);
    if (e.unreachable || e.go_says || per_request) {
      g.leaked += e.count;
      g.leaked_before_attach += e.at_attach;
      if (e.unreachable) g.leaked_unreachable += e.count;
      if (e.go_says) g.leaked_go_says += e.count;
      if (per_request) g.leaked_per_request += e.count;
    } else if (e.in_flight) {
      g.in_flight += e.count;
    } else if (e.blocked_long) {
      (grew || e.undecided ? g.suspect : g.long_lived) += e.count;
    }
  }
}

void sum_verdicts(GoroutineSnapshotSummary& s) {
  s.leaked = s.in_flight = s.long_lived = s.suspect = 0;
  for (const GoroutineGroup& g : s.groups) {
    s.leaked += g.leaked;
    s.in_flight += g.in_flight;
    s.long_lived += g.long_lived;
    s.suspect += g.suspect;
  }
  std::stable_sort(s.groups.begin(), s.groups.end(), [](const GoroutineGroup& a, const GoroutineGroup& b) {
    if (a.leaked != b.leaked) return a.leaked > b.leaked;
    if (a.in_flight != b.in_flight) return a.in_flight > b.in_flight;
    if (a.suspect != b.suspect) return a.suspect > b.suspect;
    return a.count > b.count;
  });
}

}  // namespace mws::attribute
