#include "model/task_tracker.h"

#include <algorithm>

namespace mws::model {

void TaskTracker::on_spawn(uint64_t goid, uint64_t g_addr, uint64_t startpc, uint64_t gopc,
                           uint64_t ts_ns, std::span<const uint64_t> stack, uint64_t spawn_ctx,
                           uint64_t parent_ctx, uint64_t route_tag) {
  spawned_++;
  // Go gives a g to a new goroutine only after the last one on it ended:
  // whoever we knew on this g has ended, even if its exit event was lost.
  end_goroutine_on(g_addr, goid);

  // gopc is the return address of the call to newproc: the go statement.
  // Everything inside it (newproc1, newproc.func1, systemstack) goes.
  auto at = std::find(stack.begin(), stack.end(), gopc);
  std::span<const uint64_t> creation = at == stack.end() ? stack : stack.subspan(at - stack.begin());

  auto sid = stacks_.intern(creation);
  if (!sid || live_.size() >= max_live_) {
    dropped_++;
    return;
  }
  auto [it, fresh] = group_index_.emplace(StackKey{*sid, startpc}, static_cast<GroupId>(groups_.size()));
  if (fresh) groups_.push_back({*sid, startpc, 0, 0});
  const GroupId gid = it->second;
  groups_[gid].spawned++;
  live_[goid] = LiveTask{g_addr, ts_ns, gid, parent_ctx, route_tag};
  on_g_[g_addr] = OnG{goid, ts_ns};
  // A context past the depth cap is its creator's (no new link).
  if (spawn_ctx != 0 && spawn_ctx != parent_ctx) contexts_.try_emplace(spawn_ctx, SpawnContext{parent_ctx, *sid});
}

uint64_t TaskTracker::preexisting_context(uint64_t gopc) {
  // Apart from the contexts BPF makes (a mix of a creator's context and a
  // whole stack's hash): a different finaliser over the one frame.
  uint64_t h = (gopc ^ 0x5bd1e9955bd1e995ull) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 31;
  h = h ? h : 2;
  if (contexts_.count(h)) return h;
  const uint64_t pc[1] = {gopc};
  auto sid = stacks_.intern(pc);
  if (!sid) return 0;
  contexts_.emplace(h, SpawnContext{0, *sid});
  return h;
}

bool TaskTracker::end_goroutine_on(uint64_t g_addr, uint64_t next_goid) {
  if (auto on_g = on_g_.find(g_addr); on_g != on_g_.end() && on_g->second.goid != 0) {
    if (auto it = live_.find(on_g->second.goid); it != live_.end()) {
      groups_[it->second.group].ended++;
      live_.erase(it);
      ended_++;
    }
    on_g->second.goid = 0;
    return true;
  }
  if (auto it = preexisting_.find(g_addr); it != preexisting_.end()) {
    // The same goid: created after the probes went live and read from
    // allgs too, not a goroutine from before attach.
    if (it->second != next_goid) preexisting_ended_++;
    preexisting_.erase(it);
    return true;
  }
  return false;
}

void TaskTracker::on_exit(uint64_t g_addr, uint64_t ts_ns) {
  // Older than the last goroutine that started on this g: the exit of an
  // earlier one, already ended when that one started.
  if (auto on_g = on_g_.find(g_addr); on_g != on_g_.end() && ts_ns < on_g->second.started_ns) return;
  if (!end_goroutine_on(g_addr, 0)) unknown_exits_++;
}

}  // namespace mws::model
