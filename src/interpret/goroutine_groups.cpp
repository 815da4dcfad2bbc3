#include "interpret/goroutine_groups.h"

#include <algorithm>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "interpret/goroutine_origin.h"
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

namespace {

// Whether a goroutine alive at the end was started while serving a request,
// as far as its creators can be seen: a tracked goroutine by its creation
// stacks; any by following g.parentGoid (Go 1.21+) through the creators
// still alive. A go statement of the HTTP server's own (an HTTP/2
// connection's frame reader) is the connection's, not the request's. A
// step limit and the visited set bound a hostile chain.
class RequestOrigin {
 public:
  RequestOrigin(const GoroutineSnapshotInputs& in, const std::vector<std::string>& serving,
                const std::vector<std::string>& creators)
      : in_(in), serving_(serving), creators_(creators) {
    for (size_t i = 0; i < in.at_end->size(); i++) index_.emplace((*in.at_end)[i].goid, i);
  }
  bool of(size_t i) {
    std::unordered_set<uint64_t> seen;
    for (int step = 0; step < 256; step++) {
      const target::GoroutineSnapshot& g = (*in_.at_end)[i];
      if (in_.created_in_request && in_.created_in_request->count(g.goid)) return true;
      if (is_http_server_function(creators_[i])) return false;
      if (g.parent_goid == 0 || !seen.insert(g.goid).second) return false;
      auto parent = index_.find(g.parent_goid);
      if (parent == index_.end()) return false;  // its creator has ended: not known from here
      if (!serving_[parent->second].empty()) return true;
      i = parent->second;
    }
    return false;
  }

 private:
  const GoroutineSnapshotInputs& in_;
  const std::vector<std::string>& serving_;
  const std::vector<std::string>& creators_;
  std::unordered_map<uint64_t, size_t> index_;
};

}  // namespace

GoroutineSnapshotSummary group_goroutines(const GoroutineSnapshotInputs& in, symbolize::StackSymbolizer& sym,
                                          std::unordered_map<uint64_t, GoroutineEvidence>* evidence_by_goid) {
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
    std::map<std::string, uint64_t> states;
  };
  // Per goroutine, first: what a creator's evidence needs of it.
  const size_t n = in.at_end->size();
  std::vector<std::string> starts(n), creators(n), serving(n);  // start; go statement's function; request it serves
  std::vector<std::vector<FrameId>> stacks(n), creations(n);  // symbolized once, moved into the group keys
  std::vector<std::string_view> functions;
  auto functions_of = [&](const std::vector<FrameId>& frames) {
    functions.clear();
    for (FrameId id : frames) functions.push_back(sym.frame(id).function);
    return std::span<const std::string_view>(functions);
  };
  for (size_t i = 0; i < n; i++) {
    const target::GoroutineSnapshot& g = (*in.at_end)[i];
    starts[i] = function_at_entry(sym.process(), g.startpc);
    if (g.gopc) creations[i] = sym.symbolize({g.gopc});
    creators[i] = creations[i].empty() ? "" : sym.frame(creations[i].front()).function;
    stacks[i] = sym.symbolize(g.stack);
    serving[i] = request_served(starts[i], functions_of(stacks[i]));
  }
  RequestOrigin origin(in, serving, creators);
  std::map<Key, Acc> groups;
  for (size_t i = 0; i < n; i++) {
    const target::GoroutineSnapshot& g = (*in.at_end)[i];
    const std::string& start = starts[i];
    if (is_runtime_goroutine(start)) {
      out.runtime++;
      continue;
    }
    out.total++;
    Key k{std::move(stacks[i]), std::move(creations[i]), start};
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
    const bool long_enough = blocked >= in.leak_age_s && blocked > 0;

    GoroutineEvidence e;
    e.count = 1;
    e.at_attach = waiting_at_attach.count(g.goid);
    e.go_says = (g.state.status & ~target::kGoStatusScan) == target::kGoStatusLeaked;
    functions_of(k.stack);
    if (!serving[i].empty()) {
      // A request blocked in its handler is stuck in flight, whatever it
      // waits on; one waiting for its connection's next request is idle.
      e.in_flight = long_enough && in_handler(serving[i], functions);
    } else if (start != "runtime.main" && !is_connection_goroutine(functions)) {
      // main waiting for a signal to shut down is not a leak, nor a pooled
      // connection's loop waiting for its next round trip.
      e.blocked_long = long_enough && wait_can_leak(g.state, state);
      e.from_request = origin.of(i);
    }
    if (in.reach)
      if (auto r = in.reach->find(g.goid); r != in.reach->end()) {
        e.unreachable = r->second == WaitReach::kUnreachable;
        e.undecided = r->second == WaitReach::kUndecided;
      }
    if (evidence_by_goid) evidence_by_goid->emplace(g.goid, e);
    if (in.route_of)
      if (auto route = in.route_of(g.goid)) {
        RouteTaskCount& c = route_count(a.group.by_route, *route);
        c.live++;
        // A request started it: the verdict's per-request rule applies.
        c.leaked += e.unreachable || e.go_says || e.blocked_long;
      }
    auto same = std::find_if(a.group.evidence.begin(), a.group.evidence.end(), [&](const GoroutineEvidence& x) {
      return x.blocked_long == e.blocked_long && x.unreachable == e.unreachable && x.go_says == e.go_says &&
             x.from_request == e.from_request && x.in_flight == e.in_flight && x.undecided == e.undecided;
    });
    if (same == a.group.evidence.end()) {
      a.group.evidence.push_back(e);
    } else {
      same->count++;
      same->at_attach += e.at_attach;
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
    std::stable_sort(a.group.evidence.begin(), a.group.evidence.end(),
                     [](const GoroutineEvidence& x, const GoroutineEvidence& y) { return x.count > y.count; });
    out.groups.push_back(std::move(a.group));
  }
  return out;
}

}  // namespace mws::interpret
