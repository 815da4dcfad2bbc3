#include "interpret/thread_groups.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "interpret/profile_stacks.h"
#include "target/go_abi.h"

namespace mws::interpret {
namespace {

struct Key {
  std::string holder, state, comm;
  std::vector<FrameId> stack, creation;
  std::string start;
  auto operator<=>(const Key&) const = default;
};

bool has_function(const symbolize::StackSymbolizer& sym, const std::vector<FrameId>& ids, std::string_view name) {
  return std::any_of(ids.begin(), ids.end(), [&](FrameId id) { return sym.frame(id).function == name; });
}

// What the kernel says of a thread that is no Go M: its system call and
// where it sleeps ("read, pipe_read"), or its scheduler state.
std::string kernel_state(const target::OsThread& t) {
  std::string s = t.syscall >= 0 ? target::syscall_name(t.syscall) : t.syscall == -1 ? "running" : "";
  if (!t.wchan.empty()) s += (s.empty() ? "" : ", ") + t.wchan;
  if (s.empty()) s = std::string("state ") + t.state;
  return s;
}

// The creator's stack as far as it is code. The kernel walks frame pointers
// from the clone system call; glibc's clone and pthread_create keep none,
// so past them the "frame pointer" is whatever the register held and the
// walk reads data (a heap address, the same one over and over). Go keeps
// frame pointers and its stacks walk whole.
std::vector<FrameId> creator_frames(const ThreadInputs& in, const model::ThreadLife& life,
                                    symbolize::StackSymbolizer& sym) {
  if (!life.creator_stack) return {};
  std::vector<uint64_t> pcs = in.rec->tracker.stacks().pcs(*life.creator_stack);
  if (in.mappings) {
    auto in_code = [&](uint64_t pc) {
      return std::any_of(in.mappings->begin(), in.mappings->end(),
                         [&](const target::Mapping& m) { return m.executable && pc - 1 >= m.start && pc - 1 < m.end; });
    };
    auto cut = std::find_if_not(pcs.begin(), pcs.end(), in_code);
    pcs.erase(cut, pcs.end());
  }
  return sym.symbolize(pcs);
}

}  // namespace

ThreadSummary group_threads(const ThreadInputs& in, symbolize::StackSymbolizer& sym) {
  const collect::ThreadRecording& rec = *in.rec;
  ThreadSummary out;
  out.recorded = rec.recorded;
  out.problem = rec.problem;
  out.live_at_start = rec.at_start.size();
  out.live_at_end = rec.at_end.size();
  out.created = rec.tracker.created().size() + rec.tracker.dropped();
  out.exited = rec.tracker.exited() + rec.tracker.exited_preexisting();
  out.dropped = rec.ringbuf_drops + rec.tracker.dropped() + rec.malformed;

  std::unordered_map<uint32_t, const target::GoThread*> ms;
  for (const auto& m : rec.go_threads) ms.emplace(m.tid, &m);
  std::unordered_map<uint64_t, const target::GoroutineSnapshot*> gs;
  if (in.goroutines)
    for (const auto& g : *in.goroutines) gs.emplace(g.g_addr, &g);

  struct Acc {
    uint64_t count = 0, created = 0;
    std::vector<uint32_t> tids;
  };
  std::map<Key, Acc> groups;
  for (const target::OsThread& t : rec.at_end) {
    Key k;
    k.comm = t.comm;
    const model::ThreadLife* life = rec.tracker.live(t.tid);
    auto m = ms.find(t.tid);
    if (m == ms.end()) {
      k.holder = "not a Go thread";
      k.state = kernel_state(t);
      if (life) k.stack = creator_frames(in, *life, sym);
    } else {
      out.go_threads++;
      const target::GoThread& gm = *m->second;
      const uint64_t holder_g = gm.lockedg ? gm.lockedg : gm.curg;
      const target::GoroutineSnapshot* g = nullptr;
      if (auto it = gs.find(holder_g); holder_g && it != gs.end()) g = it->second;
      const bool in_syscall = gm.curg && gm.curg == holder_g &&
                              (gm.curg_status & ~target::kGoStatusScan) == target::kGoStatusSyscall;
      if (in_syscall)
        k.stack = sym.symbolize(gm.syscall_stack);
      else if (g)
        k.stack = sym.symbolize(g->stack);
      const std::string call = has_function(sym, k.stack, "runtime.cgocall") ? "cgo call" : "system call";
      if (gm.lockedg) {
        k.holder = "locked goroutine";
        k.state = in_syscall ? "in " + call : g ? target::describe_goroutine_state(g->state, in.go_version) : "";
      } else if (in_syscall) {
        k.holder = call;
      } else if (gm.curg) {
        k.holder = "running goroutine";
      } else {
        k.holder = "idle";
      }
      if (holder_g && g) {
        // Where the holding goroutine was started: its whole creation stack
        // when the spawn probes saw it (the middleware shows in it), else
        // the go statement alone (g.gopc).
        const std::vector<uint64_t>* whole = nullptr;
        if (in.creation_by_g)
          if (auto it = in.creation_by_g->find(holder_g); it != in.creation_by_g->end()) whole = &it->second;
        if (whole)
          k.creation = sym.symbolize(*whole);
        else if (g->gopc)
          k.creation = sym.symbolize({g->gopc});
        k.start = function_at_entry(sym.process(), g->startpc);
      }
    }
    Acc& a = groups[k];
    a.count++;
    a.created += life != nullptr;
    a.tids.push_back(t.tid);
  }
  for (auto& [k, a] : groups) {
    ThreadGroup g;
    g.holder = k.holder;
    g.state = k.state;
    g.comm = k.comm;
    g.frame_ids = k.stack;
    g.creation_frame_ids = k.creation;
    g.start_function = k.start;
    g.count = a.count;
    g.created_while_recording = a.created;
    std::sort(a.tids.begin(), a.tids.end());
    g.tids = std::move(a.tids);
    out.groups.push_back(std::move(g));
  }
  std::stable_sort(out.groups.begin(), out.groups.end(),
                   [](const ThreadGroup& a, const ThreadGroup& b) { return a.count > b.count; });

  std::map<std::pair<std::vector<FrameId>, std::string>, CreatedThreadGroup> created;
  for (const model::ThreadLife& life : rec.tracker.created()) {
    std::vector<FrameId> stack = creator_frames(in, life, sym);
    CreatedThreadGroup& c = created[{stack, life.comm}];
    c.frame_ids = stack;
    c.comm = life.comm;
    c.created++;
    c.exited += life.exited_ns != 0;
  }
  for (auto& [k, c] : created) out.created_groups.push_back(std::move(c));
  std::stable_sort(out.created_groups.begin(), out.created_groups.end(),
                   [](const auto& a, const auto& b) { return a.created > b.created; });
  return out;
}

}  // namespace mws::interpret
