// CHeapTracker: the C heap while recording (--c-heap). Every block the
// allocator handed out, by address, until it is freed; counts per raw stack;
// and frees of blocks it never saw allocated (allocated before attach),
// counted apart so they are never charged to a stack.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "model/stack_table.h"

namespace mws::model {

// What an allocation stack is: the allocator function (enum
// mws_c_alloc_func), how many of its frames are C (the rest are the calling
// goroutine's Go frames), and whether it has Go frames.
struct CStackShape {
  uint32_t func = 0;
  uint32_t c_frames = 0;
  bool go_stack = false;
  uint64_t pack() const { return uint64_t(func) | uint64_t(c_frames) << 8 | uint64_t(go_stack) << 16; }
  static CStackShape unpack(uint64_t w) { return {uint32_t(w & 0xff), uint32_t(w >> 8 & 0xff), bool(w >> 16 & 1)}; }
};

struct CHeapCounts {
  uint64_t allocs = 0, bytes = 0;  // allocated while recording
  uint64_t frees = 0, freed_bytes = 0;  // of those, freed while recording
};

// A block still allocated.
struct CLiveBlock {
  StackKey key;  // stack and shape (CStackShape::pack)
  uint64_t size = 0;
  uint64_t ts_ns = 0;  // CLOCK_MONOTONIC of the allocation
};

class CHeapTracker {
 public:
  explicit CHeapTracker(size_t max_live = 1u << 22) : max_live_(max_live) {}
  // An allocator returned `ptr` (0: failed) for `size` bytes; a realloc
  // gives the block it replaced in `old_ptr`, freed when ptr != 0 or size == 0.
  void on_alloc(std::span<const uint64_t> stack, CStackShape shape, uint64_t ptr, uint64_t size, uint64_t old_ptr,
                uint64_t ts_ns);
  // free(ptr); chunk_bytes is glibc's chunk size, used only for a block
  // allocated before attach (whose requested size nobody knows).
  void on_free(uint64_t ptr, uint64_t chunk_bytes);

  const StackTable& stacks() const { return stacks_; }
  StackTable& stacks() { return stacks_; }
  const std::unordered_map<StackKey, CHeapCounts, StackKeyHash>& counts() const { return counts_; }
  const std::unordered_map<uint64_t, CLiveBlock>& live() const { return live_; }
  uint64_t events() const { return events_; }
  uint64_t dropped() const { return dropped_; }  // stack table or live table full
  uint64_t frees_before_attach() const { return frees_before_attach_; }
  uint64_t chunk_bytes_freed_before_attach() const { return chunk_bytes_before_attach_; }

 private:
  void release(uint64_t ptr, uint64_t chunk_bytes);
  size_t max_live_;
  StackTable stacks_;
  std::unordered_map<StackKey, CHeapCounts, StackKeyHash> counts_;
  std::unordered_map<uint64_t, CLiveBlock> live_;
  uint64_t events_ = 0, dropped_ = 0;
  uint64_t frees_before_attach_ = 0, chunk_bytes_before_attach_ = 0;
};

}  // namespace mws::model
