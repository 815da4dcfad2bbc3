// ThreadTracker: the OS threads of the target seen being created and
// exiting while we record (bpf/threads.bpf.c). Each creation keeps the
// creator's user stack (interned), so live threads can be grouped by where
// they were started. Threads that existed before attach are not known
// here: their exits are counted apart.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/stack_table.h"

namespace mws::model {

struct ThreadLife {
  uint32_t tid = 0, parent_tid = 0;
  uint64_t created_ns = 0;  // CLOCK_MONOTONIC
  uint64_t exited_ns = 0;   // 0: alive at the end of the recording
  std::string comm;         // the creator's name at creation
  std::optional<StackId> creator_stack;  // return addresses, innermost first; none when unreadable
};

class ThreadTracker {
 public:
  explicit ThreadTracker(size_t max_threads = 1u << 16, size_t max_stacks = 1u << 14)
      : max_threads_(max_threads), stacks_(max_stacks) {}

  void on_new(uint32_t tid, uint32_t parent_tid, uint64_t ts_ns, std::string comm,
              std::span<const uint64_t> creator_stack);
  void on_exit(uint32_t tid, uint64_t ts_ns);

  // Every thread created while recording, in creation order.
  const std::vector<ThreadLife>& created() const { return created_; }
  const StackTable& stacks() const { return stacks_; }
  uint64_t exited() const { return exited_; }              // of created() ones
  uint64_t exited_preexisting() const { return exited_preexisting_; }  // alive at attach, exited since
  uint64_t dropped() const { return dropped_; }            // creations past max_threads
  // The thread created while recording with this tid, alive at the end; null if none.
  const ThreadLife* live(uint32_t tid) const;

 private:
  size_t max_threads_;
  StackTable stacks_;
  std::vector<ThreadLife> created_;
  std::unordered_map<uint32_t, size_t> alive_;  // tid -> index in created_
  uint64_t exited_ = 0, exited_preexisting_ = 0, dropped_ = 0;
};

}  // namespace mws::model
