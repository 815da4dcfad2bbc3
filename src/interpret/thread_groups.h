// --threads: every live thread at the end grouped by what holds it, and
// the threads created while recording grouped by their creator's stack.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "collect/thread_recording.h"
#include "model/profile.h"
#include "symbolize/stack_symbolizer.h"
#include "target/go_goroutines.h"
#include "target/process.h"

namespace mws::interpret {

struct ThreadInputs {
  const collect::ThreadRecording* rec = nullptr;
  // The goroutines read at the end (for a locked goroutine's parked stack,
  // and every holder's go statement and start function); may be null.
  const std::vector<target::GoroutineSnapshot>* goroutines = nullptr;
  // With --goroutines: the whole creation stack (leaf first, [0] the go
  // statement) of each goroutine created while recording, by its g's address.
  const std::unordered_map<uint64_t, std::vector<uint64_t>>* creation_by_g = nullptr;
  std::string go_version;  // "" for a target without a Go runtime
  // The target's mappings: a creator's stack is cut at its first address
  // outside code (see creator_frames).
  const std::vector<target::Mapping>* mappings = nullptr;
};

ThreadSummary group_threads(const ThreadInputs& in, symbolize::StackSymbolizer& sym);

}  // namespace mws::interpret
