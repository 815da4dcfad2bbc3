#include "model/profile_builder.h"

#include <algorithm>
#include <map>

#include "model/heap_sample_scale.h"

namespace mws::model {
namespace {

// Functions a Go stack starts from: beyond them the frame-pointer chain
// leads into whatever created the thread (clone, rt0), not Go code, and
// Go's own tracebacks stop there too.
bool is_stack_root(const std::string& fn) {
  return fn == "runtime.goexit" || fn == "runtime.mstart" || fn == "runtime.rt0_go" || fn == "runtime.mcall" ||
         fn == "runtime.morestack";
}

std::vector<Frame> symbolize_stack(const std::vector<uint64_t>& pcs, symbolize::ProcessSymbolizer& sym) {
  std::vector<Frame> frames;
  for (uint64_t ret : pcs) {
    const auto& f = sym.symbolize_return_address(ret);
    frames.insert(frames.end(), f.begin(), f.end());
    if (!f.empty() && is_stack_root(f.back().function)) break;
  }
  return frames;
}

// Every interned stack symbolized once, indexed by StackId.
std::vector<std::vector<Frame>> symbolize_all(const StackTable& table, symbolize::ProcessSymbolizer& sym) {
  std::vector<std::vector<Frame>> frames(table.size());
  for (StackId id = 0; id < table.size(); id++) frames[id] = symbolize_stack(table.pcs(id), sym);
  return frames;
}

// Drops the frames up to and including the innermost runtime.mallocgc:
// what is left is the allocating code, as in exact mode.
std::vector<Frame> below_allocator(std::vector<Frame> frames) {
  for (size_t i = 0; i < frames.size(); i++)
    if (frames[i].function == "runtime.mallocgc") {
      frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(i + 1));
      break;
    }
  return frames;
}

}  // namespace

std::vector<ProfileStack> build_sampled_stacks(const SampleTracker& samples, symbolize::ProcessSymbolizer& sym,
                                               uint64_t rate) {
  auto frames = symbolize_all(samples.stacks(), sym);
  for (auto& f : frames) f = below_allocator(std::move(f));
  // Scaled per (stack, size) before merging stacks that symbolize alike:
  // pprof scales per record, and the runtime's records are (stack, size)
  // buckets.
  std::vector<ProfileStack> out;
  std::map<std::vector<Frame>, size_t> index;
  samples.for_each([&](const SampleKey& k, const SampleCounts& c) {
    auto [it, fresh] = index.emplace(frames[k.stack], out.size());
    if (fresh) out.push_back(ProfileStack{frames[k.stack], 0, 0, "", ""});
    ProfileStack& s = out[it->second];
    const double scale = heap_sample_scale(double(k.word), rate);
    const int64_t inuse = int64_t(c.window_samples) - int64_t(c.window_freed_samples);
    const int64_t inuse_bytes = int64_t(c.window_bytes) - int64_t(c.window_freed_bytes);
    s.samples += c.samples;
    s.sample_bytes += c.bytes;
    s.freed_samples += c.freed_samples;
    s.freed_sample_bytes += c.freed_bytes;
    s.inuse_samples += inuse;
    s.inuse_sample_bytes += inuse_bytes;
    s.objects += uint64_t(scaled(int64_t(c.samples), scale));
    s.bytes += uint64_t(scaled(int64_t(c.bytes), scale));
    s.inuse_objects += scaled(inuse, scale);
    s.inuse_bytes += scaled(inuse_bytes, scale);
  });
  return out;
}

std::vector<ProfileStack> build_alloc_stacks(const Aggregator& agg, symbolize::ProcessSymbolizer& sym,
                                             const std::function<std::string(uint64_t, uint64_t)>& type_name) {
  const auto frames = symbolize_all(agg.stacks(), sym);
  // Two raw stacks that differ only in addresses within the same source
  // lines become one stack (per type).
  std::vector<ProfileStack> out;
  std::map<std::pair<std::vector<Frame>, std::string>, size_t> index;
  agg.for_each([&](const AllocKey& k, const StackCounts& c) {
    // The average object size picks "T" or "[]T" for the type's name.
    std::string type = type_name ? type_name(k.word, c.objects ? c.bytes / c.objects : 0) : "";
    auto [it, fresh] = index.emplace(std::make_pair(frames[k.stack], type), out.size());
    if (fresh) out.push_back(ProfileStack{frames[k.stack], 0, 0, type, ""});
    out[it->second].objects += c.objects;
    out[it->second].bytes += c.bytes;
  });
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
