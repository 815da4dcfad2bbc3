// Spawn contexts (bpf/events.h) to Profile::spawn_chains: each context the
// spawn events named becomes the chain of creation stacks behind it, its
// own goroutine's first. Allocations and leaked goroutines then name a
// chain by index (ProfileStack::spawned_by, TaskGroup::leaked_by_creator_chain).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "model/profile.h"
#include "model/task_tracker.h"
#include "symbolize/stack_symbolizer.h"

namespace mws::interpret {

// Context id -> index into `out`.
using ChainIndex = std::unordered_map<uint64_t, uint32_t>;

// One chain per context seen in a spawn event. A creator's context that no
// spawn event named (it was lost) ends its chains early.
ChainIndex build_spawn_chains(const model::TaskTracker& tasks, symbolize::StackSymbolizer& sym,
                              std::vector<SpawnChain>& out);

// Adds to `shares` (one entry per chain) a part of a stack's counts.
void add_share(std::vector<SpawnShare>& shares, uint32_t chain, uint64_t objects, uint64_t bytes, uint64_t samples);

}  // namespace mws::interpret
