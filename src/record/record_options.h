// What to record from one target and how: the options every driver of a
// recording (the one-shot command, serve) fills, and the callbacks through
// which a recording reports as it goes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "model/profile.h"

namespace mws::record {

struct LiveStatus {
  double elapsed_s = 0;
  uint64_t events = 0, dropped = 0;  // so far
};

struct RecordOptions {
  pid_t pid = 0;
  double duration_s = 0;  // 0: until *stop becomes true
  std::string mode = "sampled";  // "sampled" or "exact"
  uint64_t ringbuf_bytes = 32ull << 20;
  bool empty_programs = false;  // benchmark baseline: probes fire, emit nothing
  uint32_t pending_slots = MWS_PENDING_SLOTS;  // tests only: see probes::GoProbeOptions
  bool track_allocations = true;
  bool track_goroutines = true;
  bool count_requests = true;
  bool by_route = false;  // --by-route: each request's route (needs count_requests)
  // glibc's allocator (malloc, free...): C memory behind cgo, or of a plain
  // C process. Off unless asked: the C allocator can be hot.
  bool track_c_heap = false;
  // --threads: OS thread creation and exit, and what holds each live
  // thread at the end. Works on a target without a Go runtime too.
  bool track_threads = false;
  // Options given explicitly on the command line that need a Go runtime
  // ("--goroutines", "--mode exact"): a target without one refuses them.
  std::vector<std::string> go_only_options;
  // Sampled mode: set the target's runtime.MemProfileRate to this many
  // bytes before attaching (0: leave it). Writes into the target.
  uint64_t go_sample_rate = 0;
  double leak_age_s = 30;      // blocked longer than this, started per request = leaked
  // The reachability scan behind "leaked: unreachable" (target/go_reachability.h):
  // its budget; 0 seconds turns it off.
  double reach_seconds = 10;
  uint64_t reach_mib = 4096;
  // serve: a scan's verdicts stand, without scanning again, while the same
  // goroutines wait the same way, for up to this many seconds (0: every
  // reading scans). A proven leak stays proven; a reachable wait that
  // becomes unreachable is seen at the latest this much later.
  double reach_reuse_s = 0;
  // How often pump() checks that the target still runs (a read of
  // /proc/PID/stat): ten times a second for the one-shot command, which
  // stops at once; serve, holding many targets, checks less often.
  double liveness_s = 0.1;
  const std::atomic<bool>* stop = nullptr;
  // Set by a second Ctrl-C: cuts the reading of the target's goroutines and
  // heap profile after the recording (`stop` cuts them while probes are on).
  const std::atomic<bool>* stop_again = nullptr;
  // Called once every probe is live, with a one-line summary.
  std::function<void(const std::string&)> on_attached;
  // Called for non-fatal remarks (the target exited, ...).
  std::function<void(const std::string&)> on_notice;
  // About once a second while recording: how far it got.
  std::function<void(const LiveStatus&)> on_status;
  // Every interval_s seconds (0: never): the recording so far as a Profile
  // (everything since attach, the heap and goroutines read now), while the
  // probes stay live.
  double interval_s = 0;
  std::function<void(Profile)> on_interval;
};

}  // namespace mws::record
