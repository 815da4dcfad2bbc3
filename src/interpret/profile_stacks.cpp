#include "interpret/profile_stacks.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>

#include "collect/raw_recording.h"
#include "model/heap_sample_scale.h"
#include "util/saturating.h"
#include "util/sequence_hash.h"

namespace mws::interpret {

using model::AllocKey;
using model::SampleCounts;
using model::SampleKey;
using model::StackCounts;
using model::StackId;
using model::StackTable;
using model::heap_sample_scale;
using model::scaled;
namespace {

// The runtime's tiny block (maxTinySize): a tiny allocation is sampled as
// the block it starts.
constexpr uint64_t kTinyBlockBytes = 16;

// Every interned raw stack symbolized once (indexed by StackId), and for
// each the first StackId that symbolizes alike: two raw stacks that differ
// only in addresses within the same source lines are one stack.
struct SymbolizedStacks {
  std::vector<std::vector<FrameId>> frames;
  std::vector<StackId> canonical;
};

SymbolizedStacks symbolize_all(const StackTable& table, StackSymbolizer& sym,
                               const std::function<void(std::vector<FrameId>&)>& trim = {}) {
  SymbolizedStacks out;
  out.frames.resize(table.size());
  out.canonical.resize(table.size());
  // Keys view out.frames[i]'s buffers, which are not touched while it lives.
  std::unordered_map<std::span<const FrameId>, StackId, SequenceHash, SequenceEq> first;
  for (StackId id = 0; id < table.size(); id++) {
    out.frames[id] = sym.symbolize(table.pcs(id));
    if (trim) trim(out.frames[id]);
    out.canonical[id] = first.try_emplace(out.frames[id], id).first->second;
  }
  return out;
}

// The frames of a canonical stack for a new ProfileStack: moved out on first
// use into out[at], copied from there after (a stack allocating several
// types appears once per type). (It was copied from the moved-from vector:
// every type after a stack's first lost its frames.)
constexpr size_t kNoOwner = SIZE_MAX;
std::vector<FrameId> frames_for(SymbolizedStacks& s, StackId canonical, std::vector<size_t>& owner,
                                const std::vector<ProfileStack>& out, size_t at) {
  if (owner[canonical] != kNoOwner) return out[owner[canonical]].frame_ids;
  owner[canonical] = at;
  return std::move(s.frames[canonical]);
}

// The allocator's own frames cut, up to and including the outermost
// runtime.mallocgc* (mallocgc, or a size-specialised entry point the
// compiler called directly; target::allocator_role): what is left starts
// at the allocating code, as exact mode's stacks do. The runtime's samples
// and its profile buckets skip their own frames by counts that differ
// between versions; the cut makes both start at the same frame.
void cut_allocator_frames(std::vector<FrameId>& frames, const StackSymbolizer& sym) {
  for (size_t i = frames.size(); i-- > 0;)
    if (sym.frame(frames[i]).function.starts_with("runtime.mallocgc")) {
      frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(i + 1));
      frames.shrink_to_fit();
      return;
    }
}

// Frames of an allocation's stack as the runtime's profile bucket for it
// holds them, for matching the two: after the allocator's frames are cut,
// the runtime's leading frames too (the bucket skips a fixed number of
// frames that differs between versions: runtime.newobject is in ours, not
// in go1.19's buckets); a stack of runtime frames only is kept whole.
std::vector<FrameId> bucket_match_frames(std::vector<FrameId> frames, const StackSymbolizer& sym) {
  cut_allocator_frames(frames, sym);
  size_t lead = 0;
  while (lead < frames.size() && sym.frame(frames[lead]).function.starts_with("runtime.")) lead++;
  if (lead < frames.size()) frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(lead));
  return frames;
}

// Whether a stack runs inside a request: its frames pass through
// net/http.serverHandler.ServeHTTP. Asked once per built stack.
class RequestFrames {
 public:
  explicit RequestFrames(const StackSymbolizer& sym) : sym_(sym) {}
  bool inside(const std::vector<ProfileStack>& out, size_t at) {
    if (known_.size() <= at) known_.resize(out.size(), -1);
    int8_t& k = known_[at];
    if (k < 0)
      k = std::any_of(out[at].frame_ids.begin(), out[at].frame_ids.end(), [&](FrameId id) {
        return sym_.frame(id).function == collect::RawRecording::kRequestFunction;
      });
    return k;
  }

 private:
  const StackSymbolizer& sym_;
  std::vector<int8_t> known_;
};

void add_route_share(std::vector<RouteShare>& shares, uint32_t route, uint64_t objects, uint64_t bytes,
                     uint64_t samples) {
  for (RouteShare& s : shares)
    if (s.route == route) {
      s.objects += objects;
      s.bytes += bytes;
      s.samples += samples;
      return;
    }
  shares.push_back(RouteShare{route, objects, bytes, samples});
}

// What no route tag named in each stack, as "(no request)": the shares
// then sum to the stack's own counts.
void add_untagged_shares(std::vector<ProfileStack>& out, model::RouteTracker& routes) {
  const uint32_t none = routes.route_of(0, false);
  for (ProfileStack& s : out) {
    uint64_t objects = 0, bytes = 0, samples = 0;
    for (const RouteShare& r : s.by_route) {
      objects += r.objects;
      bytes += r.bytes;
      samples += r.samples;
    }
    if (objects < s.objects || bytes < s.bytes || samples < s.samples)
      add_route_share(s.by_route, none, s.objects > objects ? s.objects - objects : 0,
                      s.bytes > bytes ? s.bytes - bytes : 0, s.samples > samples ? s.samples - samples : 0);
    std::sort(s.by_route.begin(), s.by_route.end(),
              [](const RouteShare& a, const RouteShare& b) { return a.route < b.route; });
  }
}


}  // namespace

std::vector<ProfileStack> build_sampled_stacks(SampleTracker& samples, StackSymbolizer& sym, uint64_t rate,
                                               SpawnSplit* split, BucketFrees* frees, RouteSplit* routes) {
  SymbolizedStacks stacks =
      symbolize_all(samples.stacks(), sym, [&](std::vector<FrameId>& frames) { cut_allocator_frames(frames, sym); });
  // Each raw stack in the runtime's form, for matching its bucket (frames
  // that runtime.Callers leaves out dropped), before the raw stacks go.
  std::vector<std::vector<FrameId>> match_frames;
  if (frees) {
    match_frames.resize(samples.stacks().size());
    for (StackId id = 0; id < samples.stacks().size(); id++)
      match_frames[id] = bucket_match_frames(sym.symbolize_as_callers(samples.stacks().pcs(id)), sym);
  }
  samples.release_stacks();
  // Scaled per (stack, size) before merging stacks that symbolize alike:
  // pprof scales per record, and the runtime's records are (stack, size)
  // buckets.
  std::vector<ProfileStack> out;
  out.reserve(samples.count_size());
  std::unordered_map<StackId, size_t> index;  // canonical stack -> out
  std::vector<size_t> owner(stacks.frames.size(), kNoOwner);
  samples.for_each([&](const SampleKey& k, const SampleCounts& c) {
    const StackId canonical = stacks.canonical[k.stack];
    auto [it, fresh] = index.try_emplace(canonical, out.size());
    if (fresh) {
      ProfileStack s;
      s.frame_ids = frames_for(stacks, canonical, owner, out, out.size());
      out.push_back(std::move(s));
    }
    ProfileStack& s = out[it->second];
    const double scale = heap_sample_scale(double(k.word), rate);
    s.samples += c.samples;
    s.sample_bytes += c.bytes;
    s.objects += uint64_t(scaled(int64_t(c.samples), scale));
    if (k.word == kTinyBlockBytes) s.tiny_block_objects += uint64_t(scaled(int64_t(c.samples), scale));
    s.bytes += uint64_t(scaled(int64_t(c.bytes), scale));
  });
  if (frees)
    samples.for_each([&](const SampleKey& k, const SampleCounts&) {
      // A stack sampled at two sizes comes twice: its key is taken once
      // (moved out, it is empty), and an empty key would match any bucket.
      if (match_frames[k.stack].empty()) return;
      const size_t at = index.at(stacks.canonical[k.stack]);
      auto [it, fresh] = frees->by_frames.try_emplace(std::move(match_frames[k.stack]), at);
      if (!fresh && out[at].samples > out[it->second].samples) it->second = at;
    });
  // The same scaling per (stack, size, context): a share is what its own
  // samples scale to.
  if (split && split->chains)
    samples.for_each_in_context([&](const model::ContextKey& k, const SampleCounts& c) {
      const double scale = heap_sample_scale(double(k.key.word), rate);
      const uint64_t objects = uint64_t(scaled(int64_t(c.samples), scale));
      auto chain = split->chains->find(k.ctx);
      if (chain == split->chains->end()) {
        split->unresolved_objects += objects;
        return;
      }
      add_share(out[index.at(stacks.canonical[k.key.stack])].spawned_by, chain->second, objects,
                uint64_t(scaled(int64_t(c.bytes), scale)), c.samples);
    });
  if (routes && routes->routes) {
    RequestFrames request(sym);
    samples.for_each_with_route_tag([&](const model::ContextKey& k, const SampleCounts& c) {
      const double scale = heap_sample_scale(double(k.key.word), rate);
      const size_t at = index.at(stacks.canonical[k.key.stack]);
      add_route_share(out[at].by_route, routes->routes->route_of(k.ctx, request.inside(out, at)),
                      uint64_t(scaled(int64_t(c.samples), scale)), uint64_t(scaled(int64_t(c.bytes), scale)),
                      c.samples);
    });
    add_untagged_shares(out, *routes->routes);
  }
  return out;
}

std::vector<ProfileStack> build_alloc_stacks(Aggregator& agg, StackSymbolizer& sym,
                                             const std::function<std::string(uint64_t, uint64_t)>& type_name,
                                             SpawnSplit* split, RouteSplit* routes) {
  SymbolizedStacks stacks = symbolize_all(agg.stacks(), sym);
  agg.release_stacks();
  std::vector<ProfileStack> out;
  out.reserve(agg.count_size());
  // (canonical stack, type) -> out; types are few, so they are keyed by a
  // small id of their name.
  std::unordered_map<std::string, uint32_t> type_ids;
  std::unordered_map<uint64_t, size_t> index;
  std::vector<size_t> owner(stacks.frames.size(), kNoOwner);
  // Each raw key's ProfileStack, for the counts split by context below
  // (named alike: a type's name depends on the key's average size).
  std::unordered_map<AllocKey, size_t, model::StackKeyHash> out_of_key;
  agg.for_each([&](const AllocKey& k, const StackCounts& c) {
    // The average object size picks "T" or "[]T" for the type's name.
    std::string type = type_name ? type_name(k.word, c.objects ? c.bytes / c.objects : 0) : "";
    const StackId canonical = stacks.canonical[k.stack];
    const uint64_t type_id = type_ids.try_emplace(type, static_cast<uint32_t>(type_ids.size())).first->second;
    auto [it, fresh] = index.try_emplace(uint64_t(canonical) << 32 | type_id, out.size());
    if (fresh) {
      ProfileStack s;
      s.frame_ids = frames_for(stacks, canonical, owner, out, out.size());
      s.type = std::move(type);
      out.push_back(std::move(s));
    }
    out[it->second].objects += c.objects;
    out[it->second].bytes += c.bytes;
    if (split || routes) out_of_key.emplace(k, it->second);
  });
  if (split && split->chains)
    agg.for_each_in_context([&](const model::ContextKey& k, const StackCounts& c) {
      auto chain = split->chains->find(k.ctx);
      auto at = out_of_key.find(k.key);
      if (chain == split->chains->end() || at == out_of_key.end()) {
        split->unresolved_objects += c.objects;
        return;
      }
      add_share(out[at->second].spawned_by, chain->second, c.objects, c.bytes, 0);
    });
  if (routes && routes->routes) {
    RequestFrames request(sym);
    agg.for_each_with_route_tag([&](const model::ContextKey& k, const StackCounts& c) {
      auto at = out_of_key.find(k.key);
      if (at == out_of_key.end()) return;
      add_route_share(out[at->second].by_route, routes->routes->route_of(k.ctx, request.inside(out, at->second)),
                      c.objects, c.bytes, 0);
    });
    add_untagged_shares(out, *routes->routes);
  }
  return out;
}

std::string function_at_entry(symbolize::ProcessSymbolizer& sym, uint64_t entry) {
  if (entry == 0) return "[unknown]";
  // symbolize_return_address looks at ret - 1; an entry is its own pc.
  const auto& frames = sym.symbolize_return_address(entry + 1);
  return frames.empty() ? "[unknown]" : frames.back().function;
}

void build_task_summary(const TaskTracker& tasks, StackSymbolizer& sym, const TaskSummaryInputs& in,
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
    bool leaked = age >= in.leak_age_s;
    if (in.evidence) {
      auto e = in.evidence->find(goid);
      leaked = e != in.evidence->end() &&
               (e->second.unreachable || e->second.go_says || (e->second.blocked_long && e->second.from_request));
    }
    if (in.routes && t.route_tag) {
      RouteTaskCount& r = route_count(g.by_route, in.routes->route_of(t.route_tag, true));
      r.live++;
      r.leaked += leaked;
    }
    if (leaked) {
      g.leaked++;
      out.leaked++;
      if (in.chains && t.parent_ctx)
        if (auto c = in.chains->find(t.parent_ctx); c != in.chains->end()) {
          auto& v = g.leaked_by_creator_chain;
          auto e = std::find_if(v.begin(), v.end(), [&](const ChainCount& x) { return x.chain == c->second; });
          if (e == v.end()) v.push_back(ChainCount{c->second, 1});
          else e->count++;
        }
    }
    if (in.live_states)
      if (auto st = in.live_states->find(t.g_addr); st != in.live_states->end()) states[t.group][st->second]++;
  }
  const double minutes = in.duration_s / 60.0;
  for (size_t i = 0; i < groups.size(); i++) {
    const auto& raw = tasks.groups()[i];
    TaskGroup& g = groups[i];
    g.creation_frame_ids = sym.symbolize(tasks.stacks().pcs(raw.creation_stack));
    g.start_function = function_at_entry(sym.process(), raw.startpc);
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

namespace {

// A bucket's in-use as pprof's inuse_objects and inuse_space show it:
// scaled per (stack, size) record at the rate then in force.
struct HeapInuse {
  int64_t samples = 0, sample_bytes = 0, objects = 0, bytes = 0;
};
// The smallest depth limit of the runtime's buckets (mprof.go maxStack 32
// up to go1.22; debug.profstackdepth, 128 by default, after): a bucket
// with at least this many PCs may have been cut.
constexpr size_t kMinBucketDepthLimit = 32;

HeapInuse inuse_of(const target::HeapBucket& b, int64_t rate) {
  HeapInuse h;
  h.samples = int64_t(b.inuse());
  h.sample_bytes = h.samples * int64_t(b.size);
  const double scale = heap_sample_scale(double(b.size), rate > 0 ? uint64_t(rate) : 0);
  h.objects = scaled(h.samples, scale);
  h.bytes = scaled(h.sample_bytes, scale);
  return h;
}


}  // namespace

void add_heap_inuse(const target::HeapProfileReading& start, const target::HeapProfileReading& end,
                    StackSymbolizer& sym, std::vector<ProfileStack>& stacks, BucketFrees* frees) {
  // Stacks of no type (sampled mode's, or earlier heap stacks) by frames.
  std::unordered_map<std::vector<FrameId>, size_t, SequenceHash, SequenceEq> index;
  for (size_t i = 0; i < stacks.size(); i++)
    if (stacks[i].type.empty()) index.emplace(stacks[i].frame_ids, i);
  auto stack_of = [&](const target::HeapBucket& b) -> ProfileStack& {
    std::vector<FrameId> frames = sym.symbolize_callers(b.stack);
    cut_allocator_frames(frames, sym);
    auto [it, fresh] = index.try_emplace(std::move(frames), stacks.size());
    if (fresh) {
      stacks.emplace_back();
      stacks.back().frame_ids = it->first;
    }
    return stacks[it->second];
  };
  std::vector<std::pair<const std::vector<FrameId>*, size_t>> ordered;  // frees->by_frames, sorted (cut buckets)
  // The sampled stack a bucket's frees go to, SIZE_MAX for none.
  auto sampled_stack_of = [&](const target::HeapBucket& b) -> size_t {
    const std::vector<FrameId> frames = bucket_match_frames(sym.symbolize_callers(b.stack), sym);
    if (auto it = frees->by_frames.find(frames); it != frees->by_frames.end()) return it->second;
    // Cut at the runtime's depth limit (32 PCs up to go1.22, 128 by
    // default after): the stacks it begins.
    if (b.stack.size() < kMinBucketDepthLimit || frames.empty()) return SIZE_MAX;
    // The keys in order, once, so the stacks a cut bucket begins are one
    // range: a scan of every key per bucket would cost buckets x stacks.
    if (ordered.empty()) {
      ordered.reserve(frees->by_frames.size());
      for (const auto& [key, at] : frees->by_frames) ordered.emplace_back(&key, at);
      std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
    }
    size_t best = SIZE_MAX;
    auto it = std::lower_bound(ordered.begin(), ordered.end(), frames,
                               [](const auto& entry, const std::vector<FrameId>& f) { return *entry.first < f; });
    for (; it != ordered.end() && it->first->size() >= frames.size() &&
           std::equal(frames.begin(), frames.end(), it->first->begin());
         ++it)
      if (it->first->size() > frames.size() && (best == SIZE_MAX || stacks[it->second].samples > stacks[best].samples))
        best = it->second;
    return best;
  };
  const bool start_whole = start.cut.empty() && start.unreadable == 0;
  std::unordered_map<uint64_t, const target::HeapBucket*> at_start;  // by bucket address
  for (const auto& b : start.buckets) at_start.emplace(b.address, &b);
  for (const auto& b : end.buckets) {
    const HeapInuse now = inuse_of(b, end.rate);
    HeapInuse before;
    // Frees the runtime published for this bucket between the readings
    // (its counts only grow; a bucket new since attach had none before,
    // unless the reading at attach missed it: cut short or torn, when its
    // lifetime's frees are not this window's).
    uint64_t freed = start_whole ? b.frees : 0;
    if (auto it = at_start.find(b.address); it != at_start.end()) {
      before = inuse_of(*it->second, start.rate);
      freed = b.frees > it->second->frees ? b.frees - it->second->frees : 0;
      at_start.erase(it);
    }
    if (frees && freed > 0) {
      // A bucket no stack sampled while recording matches is counted apart.
      const size_t i = sampled_stack_of(b);
      if (i != SIZE_MAX) {
        stacks[i].freed_samples = sat_add(stacks[i].freed_samples, freed);
        stacks[i].freed_sample_bytes = sat_add(stacks[i].freed_sample_bytes, sat_mul(freed, b.size));
      } else {
        frees->unattributed_samples = sat_add(frees->unattributed_samples, freed);
        frees->unattributed_bytes = sat_add(frees->unattributed_bytes, sat_mul(freed, b.size));
      }
    }
    if (now.samples == 0 && before.samples == 0) continue;
    ProfileStack& s = stack_of(b);
    s.inuse_samples += now.samples;
    s.inuse_sample_bytes += now.sample_bytes;
    s.inuse_objects += now.objects;
    s.inuse_bytes += now.bytes;
    s.inuse_change_objects += now.objects - before.objects;
    s.inuse_change_bytes += now.bytes - before.bytes;
  }
  // A bucket never leaves the list; one missing at the end read torn there.
  for (const auto& [addr, b] : at_start) {
    const HeapInuse before = inuse_of(*b, start.rate);
    if (before.samples == 0) continue;
    ProfileStack& s = stack_of(*b);
    s.inuse_change_objects -= before.objects;
    s.inuse_change_bytes -= before.bytes;
  }
}

}  // namespace mws::interpret
