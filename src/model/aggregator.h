// Aggregator: counts allocations per distinct raw stack. The event path
// does one hash lookup and two additions. Bounded by its StackTable: an
// allocation with a new stack past the limit is counted as dropped.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/stack_table.h"

namespace mws::model {

struct StackCounts {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

class Aggregator {
 public:
  explicit Aggregator(size_t max_stacks = 1u << 20) : stacks_(max_stacks) {}

  // `pcs` innermost first. Returns false when the allocation was dropped.
  bool add_alloc(std::span<const uint64_t> pcs, uint64_t size);

  size_t stack_count() const { return stacks_.size(); }
  const std::vector<uint64_t>& stack(StackId id) const { return stacks_.pcs(id); }
  const StackCounts& counts(StackId id) const { return counts_[id]; }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }

 private:
  StackTable stacks_;
  std::vector<StackCounts> counts_;
  uint64_t events_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace mws::model
