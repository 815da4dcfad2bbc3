// The target's goroutines as its runtime knows them, read from memory:
// runtime.allgs (every g ever created; dead ones are reused) and the
// fields of each g. Layout from target/go_abi.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "target/go_abi.h"
#include "target/remote_memory.h"
#include "target/walk_limits.h"
#include "util/result.h"

namespace mws::target {

struct GoroutineState {
  uint32_t status = 0;  // g.atomicstatus (scan bit included)
  uint8_t waitreason = 0;
};

struct GoroutineSnapshot {
  uint64_t g_addr = 0, goid = 0, startpc = 0, gopc = 0;
  uint64_t parent_goid = 0;         // g.parentGoid (Go 1.21+): its creator; 0 unknown
  uint64_t stack_lo = 0, stack_hi = 0;  // g.stack
  GoroutineState state;
  // CLOCK_MONOTONIC ns (Go's nanotime) of the GC that first saw it blocked
  // (g.waitsince); 0 when no GC has since it blocked, or it is not blocked.
  int64_t waitsince = 0;
  // Where it is parked: a frame-pointer walk from its saved context
  // (g.sched.pc, g.sched.bp), return addresses leaf first. Empty for a
  // goroutine that runs (its registers live in a thread) or whose walk
  // read torn.
  std::vector<uint64_t> stack;
};

// Bounds of a goroutine's current-stack walk.
inline constexpr size_t kGoroutineStackDepth = 64;

// A goroutine's stack from a saved context: `pc`, then the return addresses
// of a frame-pointer walk from `bp`, leaf first, each frame inside its stack
// [lo, hi) and above the last; at most kGoroutineStackDepth.
std::vector<uint64_t> walk_goroutine_stack(const RemoteMemory& mem, uint64_t pc, uint64_t bp, uint64_t lo, uint64_t hi);

// How a goroutine waits, as Go's traceback says it: its wait reason when
// waiting ("chan receive"; "... (leaked, says Go)" for _Gleaked), else its
// status ("runnable").
std::string describe_goroutine_state(const GoroutineState& st, const std::string& go_version);

// Every goroutine in allgs that is not dead. `allgs_addr` is the runtime
// address of the runtime.allgs slice header. With `stacks`, the current
// stack of each parked one too. Goroutines change while they are read: a
// g that reads torn (a status that is no goroutine's, a frame chain that
// leaves its stack) is skipped or loses its stack, never returned as
// garbage. A g that allgs names twice is read once. The walk stops, saying
// why in *cut (when given), after limits.max_steps entries of allgs, when
// what it kept would pass limits.max_bytes, or when limits.stop is set;
// what it read so far is returned. *cut (one line) also says when allgs
// repeats a g and when a stack walk ended at a frame pointer that points
// back down (empty: nothing cut, nothing skipped). Offsets out of bounds
// (check_go_offsets) are refused.
Result<std::vector<GoroutineSnapshot>> read_live_goroutines(const RemoteMemory& mem, uint64_t allgs_addr,
                                                            const GoRuntimeOffsets& off, bool stacks = false,
                                                            const WalkLimits& limits = WalkLimits{},
                                                            std::string* cut = nullptr);

}  // namespace mws::target
