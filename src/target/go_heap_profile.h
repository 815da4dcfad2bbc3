// The Go runtime's memory profile, read from the target's memory: every
// bucket of runtime.mbuckets (one per allocation stack and size) with its
// counts as runtime.MemProfile would report them now, i.e. as of the last
// completed GC. Zero uprobe traps: this is how mwscope sees the heap that
// grew before it attached. Layout from target/go_abi.h (GoFunctionFacts).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "target/go_abi.h"
#include "target/remote_memory.h"
#include "target/walk_limits.h"
#include "util/result.h"

namespace mws::target {

struct HeapBucket {
  uint64_t address = 0;         // the bucket's own address: stable for the process's life
  uint64_t size = 0;            // bytes of each object
  std::vector<uint64_t> stack;  // runtime.Callers form: one PC per source frame, leaf first
  uint64_t allocs = 0, frees = 0;  // sampled objects, as of the last GC
  uint64_t inuse() const { return allocs > frees ? allocs - frees : 0; }
};

struct HeapProfileReading {
  std::vector<HeapBucket> buckets;  // only those with an allocation
  uint32_t cycle = 0;               // the runtime's profile cycle (one per GC, wraps)
  int64_t rate = 0;                 // runtime.MemProfileRate as read with it
  uint64_t unreadable = 0;          // buckets skipped: torn or unreadable
  std::string cut;                  // why the walk stopped early (a limit, a loop, Ctrl-C), or ""
  double read_s = 0;                // wall time the reading took
};

// Runtime addresses of runtime.mbuckets, runtime.mProfCycle and runtime.MemProfileRate.
struct HeapProfileAddresses {
  uint64_t mbuckets = 0, mprof_cycle = 0, mem_profile_rate = 0;
};

// Reads the whole profile while the target runs. Each bucket's counts are
// active + the current cycle's pending flush, exactly what MemProfile adds
// up under its locks; before the first GC (all active counts 0) every
// pending cycle, as MemProfile does then. A bucket that reads torn (stack
// longer than the runtime allows, wrong type) is counted in `unreadable`,
// never returned. The walk stops, saying why in `cut`, at a bucket seen
// before (the list loops), after `max_buckets` buckets visited (skipped ones
// included), when what it kept would pass limits.max_bytes, or when
// limits.stop is set; what it read so far is returned.
Result<HeapProfileReading> read_heap_profile(const RemoteMemory& mem, const HeapProfileAddresses& at,
                                             const GoFunctionFacts& facts, size_t max_buckets = 1u << 22,
                                             const WalkLimits& limits = WalkLimits{});

// GCs the runtime completed between two readings (its cycle count wraps).
uint32_t gc_cycles_between(const HeapProfileReading& start, const HeapProfileReading& end);

}  // namespace mws::target
