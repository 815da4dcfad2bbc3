// SampleTracker: the Go runtime's heap samples (sampled mode). Each sampled
// allocation comes with our stack and the object's address; the runtime
// then files the object under a profile bucket (setprofilebucket), and when
// the object is swept it reports only that bucket (mProf_Free). So the
// tracker learns bucket -> stack from the allocations it sees, and charges
// each free to the stack its bucket was last linked to.
//
// What stays in use is not counted here: the runtime's own profile holds it
// as of the last GC, and mwscope reads it from memory at both ends
// (target/go_heap_profile.h).
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
  uint64_t samples = 0, bytes = 0;              // every sampled allocation seen
  uint64_t freed_samples = 0, freed_bytes = 0;  // every free charged to this stack
};

class SampleTracker {
 public:
  explicit SampleTracker(size_t max_stacks = 1u << 20, size_t max_unlinked = 1u << 16)
      : stacks_(max_stacks), max_unlinked_(max_unlinked) {}

  // `pcs` innermost first. Returns false when the sample was dropped.
  // `spawn_ctx` (0: none) also counts the sample under its goroutine's
  // spawn context (for_each_in_context).
  bool on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t object, uint64_t spawn_ctx = 0);
  void on_bucket(uint64_t object, uint64_t bucket);
  void on_free(uint64_t bucket, uint64_t size);

  const StackTable& stacks() const { return stacks_; }
  // Frees the raw stacks once symbolized; the counts and their StackIds stay.
  void release_stacks() { stacks_.release(); }
  // Every (stack, size) sampled or freed.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [k, c] : counts_) f(k, c);
  }

  size_t count_size() const { return counts_.size(); }  // distinct (stack, size)
  // The samples taken in goroutines with a spawn context (frees not split).
  template <typename F>
  void for_each_in_context(F&& f) const {
    for (const auto& [k, c] : ctx_counts_) f(k, c);
  }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }
  // Frees whose bucket never came with a sampled allocation while we
  // recorded: objects sampled before attach.
  uint64_t unattributed_free_samples() const { return unattributed_free_samples_; }
  uint64_t unattributed_free_bytes() const { return unattributed_free_bytes_; }
  // Samples still waiting for their bucket (the runtime skips
  // setprofilebucket only while an M is being set up: should stay ~0).
  size_t unlinked() const { return unlinked_.size(); }

 private:
  StackTable stacks_;
  size_t max_unlinked_;
  std::unordered_map<SampleKey, SampleCounts, StackKeyHash> counts_;
  std::unordered_map<ContextKey, SampleCounts, ContextKeyHash> ctx_counts_;  // spawn_ctx != 0 only
  std::unordered_map<uint64_t, SampleKey> unlinked_;  // object -> its sample, until its bucket is known
  std::unordered_map<uint64_t, SampleKey> buckets_;   // runtime bucket -> the sample last filed under it
  uint64_t events_ = 0, dropped_ = 0;
  uint64_t unattributed_free_samples_ = 0, unattributed_free_bytes_ = 0;
};

}  // namespace mws::model
