// RawRecording: what one recording session collected from the target,
// before any symbol is looked up. The plain value between collecting
// (record/, which attaches, polls and detaches) and interpreting
// (interpret/, which symbolizes and builds the Profile): a live view or a
// replay can reuse either side without the other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/aggregator.h"
#include "model/c_heap_tracker.h"
#include "model/profile.h"
#include "model/route_tracker.h"
#include "model/sample_tracker.h"
#include "model/task_tracker.h"
#include "collect/thread_recording.h"
#include "target/go_abi.h"
#include "target/go_goroutines.h"
#include "target/go_heap_profile.h"
#include "target/process.h"

namespace mws::collect {

// What the reachability scan said of one goroutine's wait.
enum class WaitReach : uint8_t { kReachable, kUnreachable, kUndecided };

struct RawRecording {
  // What was recorded, and how.
  target::ProcessInfo process;
  std::string go_version;       // "go1.22.3"
  std::string mode;             // "exact" or "sampled"
  uint64_t sample_rate = 0;     // sampled mode: runtime.MemProfileRate in force
  uint32_t probes_attached = 0;
  bool allocations_tracked = false;
  std::string allocations_unavailable;  // why not, when not (--no-allocs, a sampler that is off)
  bool tasks_tracked = false;
  std::string tasks_unavailable;     // why not, when not
  target::GoRuntimeOffsets offsets;  // of runtime.g, for the goroutine summary's source line
  bool requests_counted = false;
  std::string requests_unavailable;  // why not, when not
  bool routes_recorded = false;      // --by-route
  std::string routes_unavailable;    // why not, when not
  std::vector<std::string> routers, routers_refused;  // probed; present but not probed, and why
  // A stack's allocations belong to its goroutine's request only inside
  // net/http.serverHandler.ServeHTTP (bpf/events.h, "Routes").
  static constexpr std::string_view kRequestFunction = "net/http.serverHandler.ServeHTTP";
  bool tiny_allocs_counted = false;

  // When: the window every probe counted in.
  uint64_t started_unix_ns = 0;
  uint64_t ended_monotonic_ns = 0;  // CLOCK_MONOTONIC when the window closed
  double duration_s = 0;

  // What the probes saw, per raw stack (return addresses).
  model::Aggregator allocs;        // exact mode
  model::SampleTracker samples;    // sampled mode
  model::TaskTracker tasks;        // goroutines created and ended
  model::RouteTracker routes;      // --by-route: what routers matched
  // The target's own memory, read at the start and the end.
  std::vector<target::GoroutineSnapshot> preexisting;  // alive when the probes went live
  std::string goroutines_problem;  // why the goroutines could not be read (at attach or at the end)
  // Every goroutine after the probes closed, with the stack it is parked
  // on; read in every mode. goroutines_read false: goroutines_problem.
  std::vector<target::GoroutineSnapshot> goroutines_at_end;
  bool goroutines_read = false;
  uint64_t goroutines_read_ns = 0;  // CLOCK_MONOTONIC (Go's nanotime) of the end reading
  double goroutines_read_s = 0;     // how long the end reading took
  // The reachability scan of the end's channel waits (target/go_reachability.h),
  // by goid; empty with reachability.ran false when it did not run.
  std::unordered_map<uint64_t, WaitReach> wait_reach;
  ReachabilityScan reachability;
  // The runtime's memory profile as the probes went live and after they
  // closed; both or neither (heap_problem says why).
  std::optional<target::HeapProfileReading> heap_at_start, heap_at_end;
  std::string heap_problem;

  // --threads: OS threads created and exited, and alive at both ends.
  ThreadRecording threads;

  // Counters of the BPF side, and what was lost on the way.
  uint64_t requests = 0;
  uint64_t request_state_full = 0;  // --by-route: requests whose state found no room in the kernel
  uint64_t tiny_allocs = 0;
  uint64_t events = 0, dropped_events = 0, stack_errors = 0, truncated_stacks = 0;
  uint64_t dropped_ring_full = 0, dropped_over_limit = 0;  // of dropped_events
  uint64_t task_read_errors = 0;
  uint64_t spawn_ctx_lost = 0;  // goroutines whose spawn context BPF could not keep (map full)
  uint64_t spawn_ctx_seed_lost = 0;  // of those, goroutines alive at attach (their context not seeded)

  // The C heap (--c-heap), when asked for: c_heap_unavailable says why not
  // when it was asked for and could not be probed.
  bool c_heap_tracked = false;
  std::string c_heap_unavailable, c_heap_libc, c_heap_go_stacks_unavailable;
  model::CHeapTracker c_heap;
  uint64_t c_heap_dropped_ring_full = 0, c_heap_unmatched_returns = 0, c_heap_malformed = 0;

  bool sampled() const { return mode == "sampled"; }
};

}  // namespace mws::collect
