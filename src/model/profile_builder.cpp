#include "model/profile_builder.h"

#include <algorithm>
#include <map>

namespace mws::model {
namespace {

std::vector<Frame> symbolize_stack(const std::vector<uint64_t>& pcs, symbolize::ProcessSymbolizer& sym) {
  std::vector<Frame> frames;
  for (uint64_t ret : pcs) {
    const auto& f = sym.symbolize_return_address(ret);
    frames.insert(frames.end(), f.begin(), f.end());
  }
  return frames;
}

}  // namespace

std::vector<ProfileStack> build_alloc_stacks(const Aggregator& agg, symbolize::ProcessSymbolizer& sym) {
  std::vector<ProfileStack> out;
  // Two raw stacks that differ only in addresses within the same source
  // lines become one stack.
  std::map<std::vector<Frame>, size_t> index;
  for (StackId id = 0; id < agg.stack_count(); id++) {
    ProfileStack s{symbolize_stack(agg.stack(id), sym), 0, 0};
    auto [it, fresh] = index.emplace(s.frames, out.size());
    if (fresh) out.push_back(std::move(s));
    out[it->second].objects += agg.counts(id).objects;
    out[it->second].bytes += agg.counts(id).bytes;
  }
  return out;
}

std::string function_at_entry(symbolize::ProcessSymbolizer& sym, uint64_t entry) {
  if (entry == 0) return "[unknown]";
  // symbolize_return_address looks at ret - 1; an entry is its own pc.
  const auto& frames = sym.symbolize_return_address(entry + 1);
  return frames.empty() ? "[unknown]" : frames.back().function;
}

void build_task_summary(const TaskTracker& tasks, symbolize::ProcessSymbolizer& sym, const TaskSummaryInputs& in,
                        TaskSummary& out) {
  out.spawned = tasks.spawned();
  out.ended = tasks.ended();
  out.live_at_end = tasks.live().size();
  out.preexisting_ended = tasks.preexisting_ended();
  out.leak_age_s = in.leak_age_s;
  out.leaked = 0;

  std::vector<TaskGroup> groups(tasks.groups().size());
  std::vector<std::map<std::string, uint64_t>> states(groups.size());
  for (const auto& [goid, t] : tasks.live()) {
    TaskGroup& g = groups[t.group];
    const double age = in.now_ns > t.created_ns ? double(in.now_ns - t.created_ns) / 1e9 : 0;
    g.live++;
    g.oldest_age_s = std::max(g.oldest_age_s, age);
    if (age >= in.leak_age_s) {
      g.leaked++;
      out.leaked++;
    }
    if (in.state_of)
      if (auto st = in.state_of(t.g_addr)) states[t.group][*st]++;
  }
  const double minutes = in.duration_s / 60.0;
  for (size_t i = 0; i < groups.size(); i++) {
    const auto& raw = tasks.groups()[i];
    TaskGroup& g = groups[i];
    g.creation_stack = symbolize_stack(tasks.stacks().pcs(raw.creation_stack), sym);
    g.start_function = function_at_entry(sym, raw.startpc);
    g.spawned = raw.spawned;
    g.ended = raw.ended;
    g.growth_per_min = minutes > 0 ? (double(raw.spawned) - double(raw.ended)) / minutes : 0;
    g.states.assign(states[i].begin(), states[i].end());
    std::sort(g.states.begin(), g.states.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  }
  std::sort(groups.begin(), groups.end(), [](const TaskGroup& a, const TaskGroup& b) {
    if (a.leaked != b.leaked) return a.leaked > b.leaked;
    if (a.live != b.live) return a.live > b.live;
    if (a.spawned != b.spawned) return a.spawned > b.spawned;
    return a.start_function < b.start_function;
  });
  out.groups = std::move(groups);
}

}  // namespace mws::model
