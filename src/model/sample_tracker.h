// SampleTracker: the Go runtime's heap samples (sampled mode). Each sampled
// allocation comes with our stack (and the allocating goroutine's spawn
// context), counted per (stack, size).
//
// Neither frees nor what stays in use are counted here: the runtime's own
// profile holds both per bucket as of the last GC, and mwscope reads it
// from memory at both ends (target/go_heap_profile.h); the frees over the
// recording are the difference (interpret::add_heap_inuse). That costs no
// trap, where probes on setprofilebucket and mProf_Free cost two per sample.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "model/spawn_contexts.h"
#include "model/stack_table.h"

namespace mws::model {

// StackKey::word is the sampled size: the runtime keys its buckets by
// (stack, size) too, and pprof's scaling needs the size per sample.
using SampleKey = StackKey;

struct SampleCounts {
  uint64_t samples = 0, bytes = 0;  // every sampled allocation seen
};

class SampleTracker {
 public:
  explicit SampleTracker(size_t max_stacks = 1u << 20) : stacks_(max_stacks) {}

  // `pcs` innermost first. Returns false when the sample was dropped.
  // `spawn_ctx` (0: none) also counts the sample under its goroutine's
  // spawn context (for_each_in_context).
  // `route_tag` (0: none) likewise, under its request's route tag.
  bool on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t spawn_ctx = 0, uint64_t route_tag = 0);

  const StackTable& stacks() const { return stacks_; }
  // Frees the raw stacks once symbolized; the counts and their StackIds stay.
  void release_stacks() { stacks_.release(); }
  // Every (stack, size) sampled.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [k, c] : counts_) f(k, c);
  }

  size_t count_size() const { return counts_.size(); }  // distinct (stack, size)
  // The samples taken in goroutines with a spawn context.
  template <typename F>
  void for_each_in_context(F&& f) const {
    for (const auto& [k, c] : ctx_counts_) f(k, c);
  }
  // The samples taken for requests, by route tag (ContextKey::ctx holds it).
  template <typename F>
  void for_each_with_route_tag(F&& f) const {
    for (const auto& [k, c] : tag_counts_) f(k, c);
  }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }

 private:
  StackTable stacks_;
  std::unordered_map<SampleKey, SampleCounts, StackKeyHash> counts_;
  std::unordered_map<ContextKey, SampleCounts, ContextKeyHash> ctx_counts_;  // spawn_ctx != 0 only
  std::unordered_map<ContextKey, SampleCounts, ContextKeyHash> tag_counts_;  // route_tag != 0 only
  uint64_t events_ = 0, dropped_ = 0;
};

}  // namespace mws::model
