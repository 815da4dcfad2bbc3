// Turns raw ring-buffer records (bpf/events.h) into aggregator updates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/aggregator.h"

namespace mws::collect {

struct DecodeStats {
  uint64_t malformed = 0;        // records too short or of unknown kind
  uint64_t truncated_stacks = 0;
  uint64_t missing_caller = 0;
};

class EventDecoder {
 public:
  explicit EventDecoder(model::Aggregator& agg) : agg_(agg) {}
  void decode(const void* data, size_t size);
  const DecodeStats& stats() const { return stats_; }

 private:
  model::Aggregator& agg_;
  DecodeStats stats_;
};

}  // namespace mws::collect
