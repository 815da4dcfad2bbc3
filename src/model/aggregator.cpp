#include "model/aggregator.h"

#include <algorithm>

namespace mws::model {

bool Aggregator::add_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t type_addr, uint64_t spawn_ctx,
                           uint64_t route_tag) {
  auto id = stacks_.intern(pcs);
  if (!id) {
    dropped_++;
    return false;
  }
  StackCounts& c = counts_[AllocKey{*id, type_addr}];
  c.objects++;
  c.bytes += size;
  if (spawn_ctx) {
    StackCounts& x = ctx_counts_[ContextKey{AllocKey{*id, type_addr}, spawn_ctx}];
    x.objects++;
    x.bytes += size;
  }
  if (route_tag) {
    StackCounts& x = tag_counts_[ContextKey{AllocKey{*id, type_addr}, route_tag}];
    x.objects++;
    x.bytes += size;
  }
  events_++;
  return true;
}

void Aggregator::add_hashed_stack(uint64_t hash, std::span<const uint64_t> pcs) {
  auto [it, inserted] = hashed_.try_emplace(hash);
  if (inserted) {
    it->second = stacks_.intern(pcs);
    return;
  }
  // Each CPU sends the stack once: the same stack again, or a collision.
  if (it->second && !std::equal(pcs.begin(), pcs.end(), stacks_.pcs(*it->second).begin(),
                                stacks_.pcs(*it->second).end()))
    hash_collisions_++;
}

void Aggregator::add_hashed_counts(uint64_t hash, uint64_t type_addr, uint64_t objects, uint64_t bytes,
                                   uint64_t spawn_ctx, uint64_t route_tag) {
  auto it = hashed_.find(hash);
  if (it == hashed_.end() || !it->second) {
    dropped_ += objects;
    return;
  }
  StackCounts& c = counts_[AllocKey{*it->second, type_addr}];
  c.objects += objects;
  c.bytes += bytes;
  if (spawn_ctx) {
    StackCounts& x = ctx_counts_[ContextKey{AllocKey{*it->second, type_addr}, spawn_ctx}];
    x.objects += objects;
    x.bytes += bytes;
  }
  if (route_tag) {
    StackCounts& x = tag_counts_[ContextKey{AllocKey{*it->second, type_addr}, route_tag}];
    x.objects += objects;
    x.bytes += bytes;
  }
  events_ += objects;
}

}  // namespace mws::model
