// Spawn contexts (bpf/events.h, "Spawn contexts"): which chain of `go`
// statements led to the goroutine that made an allocation. BPF gives every
// goroutine created while recording a context id made from its creator's
// and its creation stack; the spawn events say, for each id, the creator's
// id and the creation stack. This holds that, and the counts keyed by
// context beside the plain per-stack counts (which stay as they were).
#pragma once

#include <cstdint>
#include <unordered_map>

#include "model/stack_table.h"

namespace mws::model {

// A (stack, word) key of the Aggregator or SampleTracker, split by context.
struct ContextKey {
  StackKey key;
  uint64_t ctx = 0;
  bool operator==(const ContextKey&) const = default;
};
struct ContextKeyHash {
  size_t operator()(const ContextKey& k) const { return StackKeyHash{}(k.key) ^ (k.ctx * 0xff51afd7ed558ccdull); }
};

// One context: its creator's context (0: a goroutine that has none) and
// the creation stack of the goroutines that carry it (a StackId of the
// TaskTracker's table, cut at the go statement).
struct SpawnContext {
  uint64_t parent = 0;
  StackId creation_stack = 0;
};

using SpawnContexts = std::unordered_map<uint64_t, SpawnContext>;

}  // namespace mws::model
