#include "model/sample_tracker.h"

namespace mws::model {

// Epoch N runs from the N-th GC end seen to the next (epoch 0: from attach
// to the first). The window holds allocations of epochs 1 .. last-1.
SampleCounts SampleTracker::settled(const Entry& e) const {
  SampleCounts c = e.c;
  if (e.epoch >= 1 && e.epoch < gc_cycles_) {  // a GC ended after them: they are in the window
    c.window_samples += e.pending_samples;
    c.window_bytes += e.pending_bytes;
  }
  return c;
}

bool SampleTracker::on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t object) {
  auto id = stacks_.intern(pcs);
  if (!id) {
    dropped_++;
    return false;
  }
  const SampleKey key{*id, size};
  Entry& e = counts_[key];
  if (e.epoch != gc_cycles_) {
    e.c = settled(e);
    e.epoch = gc_cycles_;
    e.pending_samples = e.pending_bytes = 0;
  }
  e.c.samples++;
  e.c.bytes += size;
  e.pending_samples++;
  e.pending_bytes += size;
  events_++;
  if (unlinked_.size() < max_unlinked_) unlinked_[object] = key;
  return true;
}

void SampleTracker::on_bucket(uint64_t object, uint64_t bucket) {
  auto it = unlinked_.find(object);
  if (it == unlinked_.end()) return;
  buckets_[bucket] = it->second;
  unlinked_.erase(it);
}

void SampleTracker::on_free(uint64_t bucket, uint64_t size) {
  events_++;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) {
    unattributed_free_samples_++;
    unattributed_free_bytes_ += size;
    return;
  }
  SampleCounts& c = counts_[it->second].c;
  c.freed_samples++;
  c.freed_bytes += size;
  // Frees before the second GC end come from sweeps of GCs up to the
  // first: objects allocated before the window.
  if (gc_cycles_ >= 2) {
    c.window_freed_samples++;
    c.window_freed_bytes += size;
  }
}

void SampleTracker::on_gc_end(uint64_t ts_ns) {
  gc_cycles_++;
  if (gc_cycles_ == 1) first_gc_ns_ = ts_ns;
  last_gc_ns_ = ts_ns;
}

}  // namespace mws::model
