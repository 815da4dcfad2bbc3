// The target, inspected and planned for before anything attaches: every
// check that can fail without touching the target (options, privileges, the
// process, its binary, where each probe goes, the sample rate) happens here,
// so a mistake costs nothing and leaves nothing attached.
#pragma once

#include <chrono>
#include <cstdint>
#include <tuple>
#include <unordered_map>
#include <memory>
#include <optional>
#include <string>

#include "collect/raw_recording.h"
#include "probes/c_heap_plan.h"
#include "probes/go_probe_plan.h"
#include "record/record_options.h"
#include "target/elf_file.h"
#include "target/go_reachability.h"
#include "target/privileges.h"
#include "target/process.h"
#include "util/result.h"

namespace mws::record {

// The target, inspected and planned for, before anything attaches.
struct PreparedTarget {
  target::ProcessInfo proc;
  std::unique_ptr<target::ElfFile> exe;
  probes::GoTarget plan;
  uint64_t sample_rate = 0;  // sampled mode: runtime.MemProfileRate in force
  std::string allocations_unavailable;  // why no allocation probe is attached, when none is
  std::string what;          // "process 42 (/srv/api)", for messages
  bool is_go = true;
  std::optional<probes::CHeapPlan> c_heap;  // --c-heap
  // --go-sample-rate: the process as inspected, held for the one write.
  std::optional<target::BoundProcess> bound;
  // What the reachability scan needs of the binary: found at the first
  // scan (most of a second on a large binary), kept for the next.
  mutable std::optional<Result<target::ReachabilitySetup>> reach_setup;
  // The last scan's verdicts and what it looked at (RecordOptions::reach_reuse_s).
  struct ReachCache {
    std::vector<std::tuple<uint64_t, uint32_t, uint8_t>> waits;  // (goid, status, wait reason) of its candidates
    std::unordered_map<uint64_t, collect::WaitReach> verdicts;
    ReachabilityScan scan;
    std::chrono::steady_clock::time_point when;
  };
  mutable std::optional<ReachCache> last_reach;
};


// Every check that can fail before attaching.
Result<PreparedTarget> prepare(const RecordOptions& opt);

// The one-line summary of what was attached, for RecordOptions::on_attached.
std::string attached_line(const PreparedTarget& prepared, uint32_t probes_attached);

// Runtime address of a symbol of the executable.
std::optional<uint64_t> runtime_address(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                        uint64_t link_addr);

}  // namespace mws::record
