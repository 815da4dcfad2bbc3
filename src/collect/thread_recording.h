// What --threads collected, before any symbol is looked up: the threads
// seen created and exiting (bpf/threads.bpf.c), the kernel's list of the
// target's threads as the window opened and after it closed, and, for a Go
// target, the runtime's Ms read from memory at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "model/thread_tracker.h"
#include "target/go_threads.h"
#include "target/os_threads.h"

namespace mws::collect {

struct ThreadRecording {
  bool recorded = false;
  model::ThreadTracker tracker;
  std::vector<target::OsThread> at_start, at_end;
  std::vector<target::GoThread> go_threads;  // at the end; empty when not Go or unreadable
  bool go_threads_read = false;
  std::string problem;                       // why a part is missing
  uint64_t ringbuf_drops = 0, stack_errors = 0, malformed = 0, truncated_stacks = 0;
};

// Decodes one record of the thread ring buffer into `rec.tracker`.
void decode_thread_event(ThreadRecording& rec, const void* data, size_t size);

}  // namespace mws::collect
