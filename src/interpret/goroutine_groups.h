// Every goroutine at the end, read from the target's memory, as groups:
// the same current stack, go statement and start function, like the
// runtime's goroutine profile, with a leak verdict per goroutine.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "collect/raw_recording.h"
#include "model/profile.h"
#include "symbolize/stack_symbolizer.h"
#include "target/go_goroutines.h"

namespace mws::interpret {

using collect::WaitReach;

struct GoroutineSnapshotInputs {
  const std::vector<target::GoroutineSnapshot>* at_attach = nullptr;
  const std::vector<target::GoroutineSnapshot>* at_end = nullptr;
  // --by-route: the route of the request that started a goroutine, by goid
  // (GoroutineGroup::by_route); none for goroutines no request started.
  std::function<std::optional<uint32_t>(uint64_t goid)> route_of;
  uint64_t read_ns = 0;  // CLOCK_MONOTONIC of the end reading (Go's nanotime clock)
  double duration_s = 0;
  double leak_age_s = 30;
  std::string go_version;
  // With --goroutines: goroutines created while recording, by goid, and
  // when (CLOCK_MONOTONIC ns): their age bounds how long they have waited.
  const std::unordered_map<uint64_t, uint64_t>* created_ns = nullptr;
  // With --goroutines: of those, the ones whose creation stacks (theirs and
  // their creators') ran a request (goroutine_origin.h).
  const std::unordered_set<uint64_t>* created_in_request = nullptr;
  // Reachability of channel waits, by goid (target/go_reachability.h);
  // null when the scan did not run.
  const std::unordered_map<uint64_t, WaitReach>* reach = nullptr;
};

// What a goroutine waits on decides whether a long wait is a leak: I/O
// (a keep-alive connection in "IO wait"), timers ("sleep"), system calls
// and the runtime's own parking are long-lived by design; a channel,
// select, lock or condition nobody will signal is not. _Gleaked (Go's own
// detector) always is.
bool wait_can_leak(const target::GoroutineState& st, const std::string& reason);

// Groups with each goroutine's evidence counted (GoroutineEvidence); the
// verdict is attribute/'s. `evidence_by_goid`, when given, receives each
// goroutine's evidence (count 1), for the goroutines tracked from spawn.
GoroutineSnapshotSummary group_goroutines(const GoroutineSnapshotInputs& in, symbolize::StackSymbolizer& sym,
                                          std::unordered_map<uint64_t, GoroutineEvidence>* evidence_by_goid = nullptr);

}  // namespace mws::interpret
