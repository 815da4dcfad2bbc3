// Aggregator: counts allocations per distinct raw stack (machine return
// addresses). Stacks are interned once; the event path does one hash lookup
// and two additions. Bounded: past max_stacks new stacks are counted as
// dropped, never silently lost.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace mws::model {

using StackId = uint32_t;

struct RawStack {
  std::vector<uint64_t> pcs;  // return addresses, innermost first
};

struct StackCounts {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

class Aggregator {
 public:
  explicit Aggregator(size_t max_stacks = 1u << 20) : max_stacks_(max_stacks) {}

  // `pcs` innermost first. Returns false when the stack was new and the
  // limit was reached (the allocation is then counted in dropped()).
  bool add_alloc(std::span<const uint64_t> pcs, uint64_t size);

  size_t stack_count() const { return stacks_.size(); }
  const RawStack& stack(StackId id) const { return stacks_[id]; }
  const StackCounts& counts(StackId id) const { return counts_[id]; }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct SpanHash {
    size_t operator()(std::span<const uint64_t> s) const;
  };
  struct SpanEq {
    bool operator()(std::span<const uint64_t> a, std::span<const uint64_t> b) const;
  };
  size_t max_stacks_;
  std::vector<RawStack> stacks_;
  std::vector<StackCounts> counts_;
  // Keys point into stacks_[i].pcs, whose heap buffers never move.
  std::unordered_map<std::span<const uint64_t>, StackId, SpanHash, SpanEq> index_;
  uint64_t events_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace mws::model
