// Aggregator: counts allocations per distinct (raw stack, Go type). The
// event path does two hash lookups and two additions. Bounded by its
// StackTable: an allocation with a new stack past the limit is dropped,
// and counted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/spawn_contexts.h"
#include "model/stack_table.h"

namespace mws::model {

// StackKey::word is the Go *_type passed to mallocgc; 0 for untyped memory.
using AllocKey = StackKey;

struct StackCounts {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

class Aggregator {
 public:
  explicit Aggregator(size_t max_stacks = 1u << 20) : stacks_(max_stacks) {}

  // `pcs` innermost first. Returns false when the allocation was dropped.
  // `spawn_ctx` (0: none) also counts it under its goroutine's spawn
  // context (for_each_in_context); the plain counts are the same either way.
  // `route_tag` (0: none) likewise counts it under its request's route tag
  // (bpf/events.h, "Routes"; for_each_with_route_tag).
  bool add_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t type_addr = 0, uint64_t spawn_ctx = 0,
                 uint64_t route_tag = 0);

  // Counted in the kernel (exact mode, bpf/events.h: alloc_counts): the
  // stack behind a stack hash, as the BPF programs send it, and later the
  // counts per (stack hash, type). Counts whose stack never arrived (a ring
  // buffer full every time) are dropped and counted; a hash sent with two
  // different stacks is counted in hash_collisions (the second is ignored).
  void add_hashed_stack(uint64_t hash, std::span<const uint64_t> pcs);
  void add_hashed_counts(uint64_t hash, uint64_t type_addr, uint64_t objects, uint64_t bytes, uint64_t spawn_ctx = 0,
                         uint64_t route_tag = 0);
  uint64_t hash_collisions() const { return hash_collisions_; }

  const StackTable& stacks() const { return stacks_; }
  // Frees the raw stacks once symbolized; the counts and their StackIds stay.
  void release_stacks() { stacks_.release(); }
  size_t stack_count() const { return stacks_.size(); }
  const std::vector<uint64_t>& stack(StackId id) const { return stacks_.pcs(id); }
  // Every (stack, type) seen, with its counts.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [k, c] : counts_) f(k, c);
  }
  size_t count_size() const { return counts_.size(); }  // distinct (stack, type)
  // The part of the counts made by goroutines with a spawn context.
  template <typename F>
  void for_each_in_context(F&& f) const {
    for (const auto& [k, c] : ctx_counts_) f(k, c);
  }
  // The part of the counts made for requests, by route tag (ContextKey::ctx
  // holds the tag).
  template <typename F>
  void for_each_with_route_tag(F&& f) const {
    for (const auto& [k, c] : tag_counts_) f(k, c);
  }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }

 private:
  StackTable stacks_;
  std::unordered_map<AllocKey, StackCounts, StackKeyHash> counts_;
  std::unordered_map<ContextKey, StackCounts, ContextKeyHash> ctx_counts_;  // spawn_ctx != 0 only
  std::unordered_map<ContextKey, StackCounts, ContextKeyHash> tag_counts_;  // route_tag != 0 only
  std::unordered_map<uint64_t, std::optional<StackId>> hashed_;  // nullopt: the table was full
  uint64_t events_ = 0;
  uint64_t dropped_ = 0;
  uint64_t hash_collisions_ = 0;
};

}  // namespace mws::model
