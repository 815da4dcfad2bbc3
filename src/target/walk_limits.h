// The budget of one walk over the target's memory (a list, an array of
// pointers, a graph). The target is untrusted: a pointer may loop back, a
// count may be huge, an array may name one item a million times. Every walk
// counts each item it visits (skipped ones too) against max_steps, keeps a
// visited set, charges what it keeps against max_bytes, and looks at the
// stop flag (Ctrl-C, SIGTERM) often enough to end within a second. Hitting
// a limit cuts the walk there and says why in one line (`cut`); it never
// fails the recording.
#pragma once

#include <atomic>
#include <cstdint>

namespace mws::target {

struct WalkLimits {
  uint64_t max_steps = 1u << 22;     // items visited, skipped and repeated ones included
  uint64_t max_bytes = 1ull << 30;   // bytes kept from the target (copies and results)
  const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM
  bool stopped() const { return stop && stop->load(std::memory_order_relaxed); }
};

}  // namespace mws::target
