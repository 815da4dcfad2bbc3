// The target's own state, read from its memory without a probe: every
// goroutine with its stack, the runtime's heap profile, and which waits
// nothing outside the blocked goroutines can end (the reachability scan).
// Read as the probes go live and again for each snapshot and at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "collect/raw_recording.h"
#include "record/prepared_target.h"
#include "target/go_goroutines.h"
#include "target/go_heap_profile.h"
#include "target/walk_limits.h"

namespace mws::record {

uint64_t clock_ns(clockid_t id);

// Walks end when *stop becomes true (the first Ctrl-C while probes are on,
// the second after).
target::WalkLimits walk_limits(const std::atomic<bool>* stop);

// Every goroutine of the target, read from its memory (no probe). A walk
// cut short by its limits says so in one line through `notice`.
Result<std::vector<target::GoroutineSnapshot>> read_goroutines(const PreparedTarget& t, bool stacks,
                                                               const target::WalkLimits& limits,
                                                               const std::function<void(const std::string&)>& notice);

// The runtime's memory profile, read from the target's memory (no probe).
Result<target::HeapProfileReading> read_heap(const PreparedTarget& t, const target::WalkLimits& limits,
                                             const std::function<void(const std::string&)>& notice);

// The heap profile and every goroutine now, as the end of `raw`, and which
// of them wait on what nothing else references.
void read_end_state(collect::RawRecording& raw, const PreparedTarget& t, const RecordOptions& opt,
                    const target::WalkLimits& limits);

}  // namespace mws::record
