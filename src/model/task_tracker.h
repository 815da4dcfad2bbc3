// TaskTracker: the goroutines seen being created and ending while we
// record. Live tasks are keyed by goid; each belongs to a group (creation
// stack, start function). Goroutines that existed before attach are known
// only by the goids the caller registers, and are kept apart. An exit
// names the g and its time, not the goid (BPF does not read the ending g:
// events.h): the goroutine on a g is the last one spawned on it or
// registered there, and Go reuses a g only after its goroutine ended.
// Exits arrive batched, after later spawns: one older than the goroutine
// now on its g belongs to an earlier one, ended when this one started.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/spawn_contexts.h"
#include "model/stack_table.h"

namespace mws::model {

using GroupId = uint32_t;

struct LiveTask {
  uint64_t g_addr = 0;
  uint64_t created_ns = 0;  // CLOCK_MONOTONIC
  GroupId group = 0;
  uint64_t parent_ctx = 0;  // its creator's spawn context (0: none)
  uint64_t route_tag = 0;   // the request its creator served (bpf/events.h, "Routes"); 0: none
};

struct TaskGroupCounts {
  StackId creation_stack = 0;  // return addresses; [0] is the go statement's
  uint64_t startpc = 0;
  uint64_t spawned = 0;
  uint64_t ended = 0;
};

class TaskTracker {
 public:
  explicit TaskTracker(size_t max_live = 1u << 21, size_t max_stacks = 1u << 18)
      : max_live_(max_live), stacks_(max_stacks) {}

  // Goroutines alive when probes went live (read from the runtime's allgs).
  void register_preexisting(uint64_t goid, uint64_t g_addr) { preexisting_[g_addr] = goid; }
  // The spawn context given to such a goroutine from its go statement
  // (gopc): a one-frame creation stack, no creator. The context id for it.
  uint64_t preexisting_context(uint64_t gopc);

  // `stack` innermost first as captured at newproc1's RET; frames below
  // the go statement (newproc1, systemstack, ...) are cut using gopc.
  // spawn_ctx/parent_ctx: the new goroutine's spawn context and its
  // creator's (bpf/events.h); 0 when not tracked.
  void on_spawn(uint64_t goid, uint64_t g_addr, uint64_t startpc, uint64_t gopc,
                uint64_t ts_ns, std::span<const uint64_t> stack, uint64_t spawn_ctx = 0, uint64_t parent_ctx = 0,
                uint64_t route_tag = 0);
  void on_exit(uint64_t g_addr, uint64_t ts_ns);

  const std::unordered_map<uint64_t, LiveTask>& live() const { return live_; }
  const std::vector<TaskGroupCounts>& groups() const { return groups_; }
  const StackTable& stacks() const { return stacks_; }
  // Every spawn context seen, with its creator's and its creation stack.
  const SpawnContexts& contexts() const { return contexts_; }
  uint64_t spawned() const { return spawned_; }
  uint64_t ended() const { return ended_; }
  uint64_t preexisting_alive() const { return preexisting_.size(); }
  uint64_t preexisting_ended() const { return preexisting_ended_; }
  uint64_t unknown_exits() const { return unknown_exits_; }
  uint64_t dropped() const { return dropped_; }  // over a limit

 private:
  size_t max_live_;
  StackTable stacks_;
  std::vector<TaskGroupCounts> groups_;
  std::unordered_map<StackKey, GroupId, StackKeyHash> group_index_;  // (creation stack, startpc)
  // The goroutine we know on g has ended; next_goid starts on it (0: none).
  // False when we knew none there.
  bool end_goroutine_on(uint64_t g_addr, uint64_t next_goid);

  struct OnG {
    uint64_t goid = 0;      // the live tracked goroutine on this g; 0: none now
    uint64_t started_ns = 0;  // when the last goroutine we saw start on it did
  };
  std::unordered_map<uint64_t, LiveTask> live_;  // by goid
  std::unordered_map<uint64_t, OnG> on_g_;       // by g: every g a tracked goroutine started on
  std::unordered_map<uint64_t, uint64_t> preexisting_;  // g -> goid, alive at attach
  SpawnContexts contexts_;
  uint64_t spawned_ = 0, ended_ = 0, preexisting_ended_ = 0, unknown_exits_ = 0, dropped_ = 0;
};

}  // namespace mws::model
