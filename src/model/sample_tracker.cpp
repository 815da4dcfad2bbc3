#include "model/sample_tracker.h"

namespace mws::model {

bool SampleTracker::on_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t spawn_ctx, uint64_t route_tag) {
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
  if (route_tag) {
    SampleCounts& x = tag_counts_[ContextKey{key, route_tag}];
    x.samples++;
    x.bytes += size;
  }
  events_++;
  return true;
}

}  // namespace mws::model
