// Turns the model's raw data into a Profile: symbolizes every distinct
// address once, interns the frames (Profile::frames) and merges stacks that
// symbolize identically.
//
// Memory: a built stack costs its FrameIds (4 bytes a frame) and its counts,
// about what its raw stack cost while recording; frames are shared. A
// report of a million stacks stays within a small multiple of the
// recording's memory (docs/profile.md, "Memory").
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/aggregator.h"
#include "model/route_tracker.h"
#include "model/profile.h"
#include "model/sample_tracker.h"
#include "interpret/spawn_chains.h"
#include "model/task_tracker.h"
#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/go_heap_profile.h"
#include "util/sequence_hash.h"

namespace mws::interpret {

using model::Aggregator;
using model::SampleTracker;
using model::TaskTracker;
using symbolize::StackSymbolizer;

// Both builders free the recording's raw stacks once they are symbolized
// (release_stacks): the report then holds FrameIds where the recording held
// return addresses, not both.

// Where the counts made by goroutines with a spawn context go
// (ProfileStack::spawned_by): the chains by context, and a count of the
// objects whose context names no chain. Null: not split.
struct SpawnSplit {
  const ChainIndex* chains = nullptr;
  uint64_t unresolved_objects = 0;
};

// Where the counts made for requests go (ProfileStack::by_route): the
// route tracker names each tag's route (bpf/events.h, "Routes"). Every
// stack then has shares that sum to its own counts: what no tag named is
// "(no request)". Null: not split.
struct RouteSplit {
  model::RouteTracker* routes = nullptr;
};

// `type_name(type_addr, size)` names the Go type of an allocation.
std::vector<ProfileStack> build_alloc_stacks(Aggregator& agg, StackSymbolizer& sym,
                                             const std::function<std::string(uint64_t, uint64_t)>& type_name,
                                             SpawnSplit* split = nullptr, RouteSplit* routes = nullptr);

// Sampled mode's frees, from the runtime's profile buckets.
struct BucketFrees {
  // Each sampled stack (its index in the built stacks) by its frames as the
  // runtime's bucket for it records them (bucket_match_frames), filled by
  // build_sampled_stacks. Stacks that differ only where the runtime's
  // buckets do not (the allocator's own frames, e.g. a new object and a
  // map's growth at one line) share one entry: the stack with most samples.
  std::unordered_map<std::vector<FrameId>, size_t, SequenceHash, SequenceEq> by_frames;
  // Frees of buckets whose frames match no stack sampled while recording
  // (objects sampled before attach at stacks not seen since): raw samples
  // and their bytes (ProfileMeta::unattributed_free_*).
  uint64_t unattributed_samples = 0, unattributed_bytes = 0;
};

// Sampled mode: one ProfileStack per distinct symbolized stack with raw
// samples, and objects/bytes scaled at `rate`
// (runtime.MemProfileRate) per (stack, size) record, the way pprof scales
// heap samples. The stacks start where exact mode's
// do, at the caller of runtime.mallocgc: the sampler's own frames
// (mProf_Malloc, profilealloc, mallocgc) are cut. With `frees`, indexes
// the stacks for matching the runtime's buckets (BucketFrees::by_frames).
std::vector<ProfileStack> build_sampled_stacks(SampleTracker& samples, StackSymbolizer& sym,
                                               uint64_t rate, SpawnSplit* split = nullptr,
                                               BucketFrees* frees = nullptr, RouteSplit* routes = nullptr);


// The heap in use per stack from the runtime's memory profile read at
// attach and at the end (ProfileStack::inuse_*): each bucket's stack is
// symbolized in runtime.Callers' form and merged into the stack of the same
// frames and no type in `stacks`, or added as a stack of its own.
// With `frees` (sampled mode, `stacks` and `frees` as build_sampled_stacks
// made them): each bucket's frees between the readings (end minus start:
// the frees the runtime's sweeps published in the GC cycles that completed
// in between) go to ProfileStack::freed_* of the sampled stack whose frames
// match the bucket's in the runtime's own form (the allocator's frames and
// the wrappers runtime.Callers leaves out dropped; a bucket cut at the
// runtime's depth limit matches the stack it begins, the one with most
// samples if several), or, when none does, to `frees`.
void add_heap_inuse(const target::HeapProfileReading& start, const target::HeapProfileReading& end,
                    StackSymbolizer& sym, std::vector<ProfileStack>& stacks, BucketFrees* frees = nullptr);

struct TaskSummaryInputs {
  uint64_t now_ns = 0;       // CLOCK_MONOTONIC at the end of the recording
  double duration_s = 0;
  double leak_age_s = 30;
  // How each live goroutine waited at the end, by g address ("chan
  // receive", "runnable"); a goroutine missing from it was unreadable.
  const std::unordered_map<uint64_t, std::string>* live_states = nullptr;
  // Spawn chains by context, for TaskGroup::leaked_by_creator_chain; null: none.
  const ChainIndex* chains = nullptr;
  // Each goroutine's evidence at the end, by goid (group_goroutines); null
  // when the goroutines could not be read: then age alone decides.
  const std::unordered_map<uint64_t, GoroutineEvidence>* evidence = nullptr;
  // --by-route: names each goroutine's route tag (TaskGroup::by_route); null: none.
  model::RouteTracker* routes = nullptr;
};

// Fills the counts and groups of `out` (its tracked/reason/preexisting
// fields are the caller's).
void build_task_summary(const TaskTracker& tasks, StackSymbolizer& sym, const TaskSummaryInputs& in,
                        TaskSummary& out);

// Frames of a function entry (g.startpc), for naming start functions.
std::string function_at_entry(symbolize::ProcessSymbolizer& sym, uint64_t entry);

}  // namespace mws::interpret
