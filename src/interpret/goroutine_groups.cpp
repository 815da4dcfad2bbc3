#include "interpret/goroutine_groups.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "interpret/profile_stacks.h"

namespace mws::interpret {

bool wait_can_leak(const target::GoroutineState& st, const std::string& reason) {
  const uint32_t status = st.status & ~target::kGoStatusScan;
  if (status == target::kGoStatusLeaked) return true;
  if (status != target::kGoStatusWaiting) return false;
  // The waitReason strings of the table that wait on other goroutines:
  // "chan receive", "chan send (nil chan)", "select (no cases)",
  // "sync.Mutex.Lock", "sync.Cond.Wait", "sync.WaitGroup.Wait",
  // "semacquire", and "coroutine" (an iter.Pull whose stop was never called).
  for (std::string_view prefix : {"chan ", "select", "sync.", "semacquire", "coroutine"})
    if (reason.starts_with(prefix)) return true;
  return false;
}

namespace {

// The runtime's own goroutines (GC workers, the finalizer, timers): the
// goroutine profile leaves them out (isSystemGoroutine), and so do we.
bool is_runtime_goroutine(const std::string& start) {
  return start.starts_with("runtime.") && start != "runtime.main";
}

}  // namespace

GoroutineSnapshotSummary group_goroutines(const GoroutineSnapshotInputs& in, symbolize::StackSymbolizer& sym) {
  GoroutineSnapshotSummary out;
  out.read = true;
  out.leak_age_s = in.leak_age_s;
  out.at_attach = in.at_attach ? in.at_attach->size() : 0;
  // What each goroutine waited on at attach, by goid.
  std::unordered_map<uint64_t, target::GoroutineState> waiting_at_attach;
  if (in.at_attach)
    for (const auto& g : *in.at_attach) waiting_at_attach.emplace(g.goid, g.state);

  out.duration_s = in.duration_s;
  struct Key {
    std::vector<FrameId> stack, creation;
    std::string start;
    auto operator<=>(const Key&) const = default;
  };
  auto key_of = [&](const target::GoroutineSnapshot& g, const std::string& start) {
    return Key{sym.symbolize(g.stack), g.gopc ? sym.symbolize({g.gopc}) : std::vector<FrameId>{}, start};
  };
  // The same groups at attach, for how much each grew.
  std::map<Key, uint64_t> count_at_attach;
  if (in.at_attach)
    for (const auto& g : *in.at_attach) {
      const std::string start = function_at_entry(sym.process(), g.startpc);
      if (is_runtime_goroutine(start)) continue;
      out.total_at_attach++;
      count_at_attach[key_of(g, start)]++;
    }
  struct Acc {
    GoroutineGroup group;
    std::map<std::string, uint64_t> states, leaked_states;
  };
  std::map<Key, Acc> groups;
  for (const auto& g : *in.at_end) {
    const std::string start = function_at_entry(sym.process(), g.startpc);
    if (is_runtime_goroutine(start)) {
      out.runtime++;
      continue;
    }
    out.total++;
    Key k = key_of(g, start);
    Acc& a = groups[k];
    a.group.count++;
    const std::string state = target::describe_goroutine_state(g.state, in.go_version);
    a.states[state]++;
    double blocked = 0;
    if (target::go_status_is_waiting(g.state.status)) {
      if (g.waitsince > 0 && uint64_t(g.waitsince) < in.read_ns) blocked = double(in.read_ns - uint64_t(g.waitsince)) / 1e9;
      auto it = waiting_at_attach.find(g.goid);
      if (it != waiting_at_attach.end() && target::go_status_is_waiting(it->second.status) &&
          it->second.waitreason == g.state.waitreason)
        blocked = std::max(blocked, in.duration_s);
      // Created while recording (the spawn probes saw it): it cannot have
      // waited longer than it lived, and that is the leak age's measure.
      if (in.created_ns)
        if (auto c = in.created_ns->find(g.goid); c != in.created_ns->end() && c->second < in.read_ns)
          blocked = std::max(blocked, double(in.read_ns - c->second) / 1e9);
    }
    a.group.blocked_s = std::max(a.group.blocked_s, blocked);
    // The main goroutine waiting for a signal to shut down is not a leak.
    if (blocked >= in.leak_age_s && blocked > 0 && start != "runtime.main" && wait_can_leak(g.state, state)) {
      a.group.leaked++;
      a.leaked_states[state]++;
      if (waiting_at_attach.count(g.goid)) a.group.leaked_before_attach++;
    }
  }
  for (auto& [k, a] : groups) {
    if (auto it = count_at_attach.find(k); it != count_at_attach.end()) a.group.at_attach = it->second;
    a.group.frame_ids = k.stack;
    a.group.creation_frame_ids = k.creation;
    a.group.start_function = k.start;
    auto most_first = [](const std::map<std::string, uint64_t>& counts) {
      std::vector<std::pair<std::string, uint64_t>> out(counts.begin(), counts.end());
      std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
      return out;
    };
    a.group.states = most_first(a.states);
    a.group.leaked_states = most_first(a.leaked_states);
    out.leaked += a.group.leaked;
    out.groups.push_back(std::move(a.group));
  }
  std::stable_sort(out.groups.begin(), out.groups.end(), [](const GoroutineGroup& a, const GoroutineGroup& b) {
    return a.leaked != b.leaked ? a.leaked > b.leaked : a.count > b.count;
  });
  return out;
}

}  // namespace mws::interpret
