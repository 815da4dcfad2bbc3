#include "model/c_heap_tracker.h"

namespace mws::model {

void CHeapTracker::release(uint64_t ptr, uint64_t chunk_bytes) {
  auto it = live_.find(ptr);
  if (it == live_.end()) {
    frees_before_attach_++;
    chunk_bytes_before_attach_ += chunk_bytes;
    return;
  }
  CHeapCounts& c = counts_[it->second.key];
  c.frees++;
  c.freed_bytes += it->second.size;
  live_.erase(it);
}

void CHeapTracker::on_free(uint64_t ptr, uint64_t chunk_bytes) {
  events_++;
  release(ptr, chunk_bytes);
}

void CHeapTracker::on_alloc(std::span<const uint64_t> stack, CStackShape shape, uint64_t ptr, uint64_t size,
                            uint64_t old_ptr, uint64_t ts_ns) {
  events_++;
  if (old_ptr != 0 && (ptr != 0 || size == 0)) release(old_ptr, 0);
  if (ptr == 0) return;
  auto id = stacks_.intern(stack);
  if (!id || (live_.size() >= max_live_ && !live_.contains(ptr))) {
    dropped_++;
    return;
  }
  const StackKey key{*id, shape.pack()};
  CHeapCounts& c = counts_[key];
  c.allocs++;
  c.bytes += size;
  // An address handed out again without a free we saw (the free was lost):
  // the old block is gone.
  live_[ptr] = CLiveBlock{key, size, ts_ns};
}

}  // namespace mws::model
