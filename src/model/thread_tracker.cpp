#include "model/thread_tracker.h"

namespace mws::model {

void ThreadTracker::on_new(uint32_t tid, uint32_t parent_tid, uint64_t ts_ns, std::string comm,
                           std::span<const uint64_t> creator_stack) {
  if (created_.size() >= max_threads_) {
    dropped_++;
    return;
  }
  ThreadLife t{tid, parent_tid, ts_ns, 0, std::move(comm), std::nullopt};
  if (!creator_stack.empty()) t.creator_stack = stacks_.intern(creator_stack);
  alive_[tid] = created_.size();
  created_.push_back(std::move(t));
}

void ThreadTracker::on_exit(uint32_t tid, uint64_t ts_ns) {
  auto it = alive_.find(tid);
  if (it == alive_.end()) {
    exited_preexisting_++;
    return;
  }
  created_[it->second].exited_ns = ts_ns;
  exited_++;
  alive_.erase(it);
}

const ThreadLife* ThreadTracker::live(uint32_t tid) const {
  auto it = alive_.find(tid);
  return it == alive_.end() ? nullptr : &created_[it->second];
}

}  // namespace mws::model
