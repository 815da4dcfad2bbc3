// SampleTracker: the Go runtime's heap samples (sampled mode). Each sampled
// allocation comes with our stack and the object's address; the runtime
// then files the object under a profile bucket (setprofilebucket), and when
// the object is swept it reports only that bucket (mProf_Free). So the
// tracker learns bucket -> stack from the allocations it sees, and charges
// each free to the stack its bucket was last linked to.
//
// In use, like runtime.MemProfile, is only defined at GC boundaries: an
// object allocated after the last mark termination has had no chance to be
// freed yet. So in-use here is the change between the first and the last
// GC end seen while recording, exactly what diffing two MemProfile
// snapshots taken at those GCs shows: allocations between the two GC ends,
// minus frees from the sweeps after the first one. (Frees of the first
// GC's own sweep are of objects allocated before it, outside the window.)
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "model/stack_table.h"

namespace mws::model {

// StackKey::word is the sampled size: the runtime keys its buckets by
// (stack, size) too, and pprof's scaling needs the size per sample.
using SampleKey = StackKey;

struct SampleCounts {
  uint64_t samples = 0, bytes = 0;              // every sampled allocation seen
  uint64_t freed_samples = 0, freed_bytes = 0;  // every free charged to this stack
  // The in-use window (between the first and the last GC end).
  uint64_t window_samples = 0, window_bytes = 0;            // allocated in it
  uint64_t window_freed_samples = 0, window_freed_bytes = 0;  // freed in it
};

class SampleTracker {
 public:
  explicit SampleTracker(size_t max_stacks = 1u << 20, size_t max_unlinked = 1u << 16)
      : stacks_(max_stacks), max_unlinked_(max_unlinked) {}

  // `pcs` innermost first. Returns false when the sample was dropped.
  bool on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t object);
  void on_bucket(uint64_t object, uint64_t bucket);
  void on_free(uint64_t bucket, uint64_t size);
  void on_gc_end(uint64_t ts_ns);

  const StackTable& stacks() const { return stacks_; }
  // Frees the raw stacks once symbolized; the counts and their StackIds stay.
  void release_stacks() { stacks_.release(); }
  // Every (stack, size) sampled or freed, with its window as of now.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [k, e] : counts_) f(k, settled(e));
  }

  size_t count_size() const { return counts_.size(); }  // distinct (stack, size)
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t gc_cycles() const { return gc_cycles_; }
  // Seconds between the first and the last GC end; 0 (in-use unknown)
  // until two GCs have ended.
  double inuse_window_s() const { return gc_cycles_ >= 2 ? double(last_gc_ns_ - first_gc_ns_) / 1e9 : 0; }
  // Frees whose bucket never came with a sampled allocation while we
  // recorded: objects sampled before attach.
  uint64_t unattributed_free_samples() const { return unattributed_free_samples_; }
  uint64_t unattributed_free_bytes() const { return unattributed_free_bytes_; }
  // Samples still waiting for their bucket (the runtime skips
  // setprofilebucket only while an M is being set up: should stay ~0).
  size_t unlinked() const { return unlinked_.size(); }

 private:
  struct Entry {
    SampleCounts c;
    // Allocations of the current GC cycle (epoch), not yet in the window:
    // they join it when a later GC ends.
    uint64_t epoch = 0, pending_samples = 0, pending_bytes = 0;
  };
  SampleCounts settled(const Entry& e) const;

  StackTable stacks_;
  size_t max_unlinked_;
  std::unordered_map<SampleKey, Entry, StackKeyHash> counts_;
  std::unordered_map<uint64_t, SampleKey> unlinked_;  // object -> its sample, until its bucket is known
  std::unordered_map<uint64_t, SampleKey> buckets_;   // runtime bucket -> the sample last filed under it
  uint64_t gc_cycles_ = 0, first_gc_ns_ = 0, last_gc_ns_ = 0, events_ = 0, dropped_ = 0;
  uint64_t unattributed_free_samples_ = 0, unattributed_free_bytes_ = 0;
};

}  // namespace mws::model
