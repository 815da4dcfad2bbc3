// Loads bpf/native.bpf.c and attaches it to the target's libc allocator
// (--c-heap): entry and return probes on each allocation function, an entry
// probe on free. The return probes are uretprobes, safe on C functions (C
// stacks never move). Links are owned by file descriptors held here;
// destroying CHeapProbes (or mwscope dying) detaches everything.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "probes/c_heap_plan.h"
#include "util/result.h"

struct native_probes;
struct bpf_map;
struct bpf_link;

namespace mws::probes {

struct CHeapCounters {
  uint64_t ringbuf_drops = 0, unmatched_returns = 0;
};

class CHeapProbes {
 public:
  // empty_programs: benchmarks only, every probe runs a program that does nothing.
  static Result<std::unique_ptr<CHeapProbes>> attach(const CHeapPlan& plan, pid_t pid, uint64_t ringbuf_bytes,
                                                     bool empty_programs = false);
  ~CHeapProbes();
  CHeapProbes(const CHeapProbes&) = delete;
  CHeapProbes& operator=(const CHeapProbes&) = delete;

  bpf_map* events_map() const;
  CHeapCounters read_counters() const;
  uint32_t probes_attached() const { return static_cast<uint32_t>(links_.size()); }
  void open_window();
  void close_window();
  void detach();  // idempotent; maps stay readable

 private:
  CHeapProbes() = default;
  native_probes* skel_ = nullptr;
  std::vector<bpf_link*> links_;
};

}  // namespace mws::probes
