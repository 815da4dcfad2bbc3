// Turns raw ring-buffer records (bpf/events.h) into model updates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bpf/events.h"
#include "model/aggregator.h"
#include "model/route_tracker.h"
#include "model/sample_tracker.h"
#include "model/task_tracker.h"

namespace mws::collect {

struct DecodeStats {
  uint64_t malformed = 0;  // records too short or of unknown kind
  uint64_t truncated_stacks = 0;
  uint64_t missing_caller = 0;
};

// One CPU's batch of goroutine exits (bpf/events.h), in order, into the tracker.
void apply_exits(model::TaskTracker& tasks, const mws_exit_batch& batch);

class EventDecoder {
 public:
  EventDecoder(model::Aggregator& allocs, model::SampleTracker& samples, model::TaskTracker& tasks,
               model::RouteTracker& routes)
      : allocs_(allocs), samples_(samples), tasks_(tasks), routes_(routes) {}
  void decode(const void* data, size_t size);
  const DecodeStats& stats() const { return stats_; }

 private:
  // Builds the stack innermost first: the caller read at [SP], then the
  // walked frames after stack[0] (the probed instruction itself).
  size_t splice_stack(const mws_event_header& hdr, uint64_t caller, const __u64* stack, uint32_t stack_len,
                      uint64_t* out);
  model::Aggregator& allocs_;
  model::SampleTracker& samples_;
  model::TaskTracker& tasks_;
  model::RouteTracker& routes_;
  DecodeStats stats_;
};

}  // namespace mws::collect
