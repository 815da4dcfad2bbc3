#include "model/sample_tracker.h"

namespace mws::model {

bool SampleTracker::on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t object, uint64_t spawn_ctx) {
  auto id = stacks_.intern(pcs);
  if (!id) {
    dropped_++;
    return false;
  }
  const SampleKey key{*id, size};
  SampleCounts& c = counts_[key];
  c.samples++;
  c.bytes += size;
  if (spawn_ctx) {
    SampleCounts& x = ctx_counts_[ContextKey{key, spawn_ctx}];
    x.samples++;
    x.bytes += size;
  }
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
  SampleCounts& c = counts_[it->second];
  c.freed_samples++;
  c.freed_bytes += size;
}

}  // namespace mws::model
