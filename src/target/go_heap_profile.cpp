#include "target/go_heap_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

namespace mws::target {
namespace {

constexpr uint64_t kMemProfileBucket = 1;  // mprof.go: memProfile bucketType = 1 + iota
constexpr int kFutureCycles = 3;           // memRecord.future [3]memRecordCycle

struct RawBucket {
  HeapBucket bucket;
  uint64_t active_allocs = 0, active_frees = 0;
  uint64_t future_allocs[kFutureCycles] = {}, future_frees[kFutureCycles] = {};
};

}  // namespace

Result<HeapProfileReading> read_heap_profile(const RemoteMemory& mem, const HeapProfileAddresses& at,
                                             const GoFunctionFacts& facts, size_t max_buckets,
                                             const WalkLimits& limits) {
  if (!facts.heap_profile_readable) return Error{"the runtime's memory profile is read from go1.19 on"};
  if (facts.bucket_header_size != 48) return Error{"unknown layout of the runtime's profile buckets"};
  HeapProfileReading out;
  const auto started = std::chrono::steady_clock::now();
  auto rate = mem.read<int64_t>(at.mem_profile_rate);
  auto cycle = mem.read<uint32_t>(at.mprof_cycle);
  auto head = mem.read<uint64_t>(at.mbuckets);
  if (!rate || !cycle || !head) return Error{"cannot read the runtime's memory profile from the target's memory"};
  out.rate = *rate;
  out.cycle = *cycle >> 1;  // mProfCycleHolder: cycle<<1 | flushed
  const uint64_t word = 8, cycle_bytes = uint64_t(facts.mem_record_cycle_words) * word;
  const uint64_t record_bytes = cycle_bytes * (1 + kFutureCycles);

  std::vector<RawBucket> raw;
  std::vector<uint64_t> body;
  bool any_active = false;
  std::unordered_set<uint64_t> visited;
  uint64_t steps = 0, kept_bytes = 0;
  const uint64_t max_steps = std::min<uint64_t>(max_buckets, limits.max_steps);
  for (uint64_t b = *head; b != 0;) {
    // Every bucket visited counts, skipped ones too: a list of torn buckets
    // must end like any other.
    if (steps >= max_steps) {
      out.cut = fmt::format("the heap profile was cut after {} buckets (the limit)", steps);
      break;
    }
    if (steps++ % 256 == 0 && limits.stopped()) {
      out.cut = fmt::format("the heap profile was cut after {} buckets: interrupted", steps - 1);
      break;
    }
    if (!visited.insert(b).second) {
      out.cut = fmt::format("the heap profile was cut after {} buckets: its list loops back to bucket {:#x}",
                            steps - 1, b);
      break;
    }
    uint64_t header[6];
    static_assert(sizeof(header) == 48);
    if (!mem.read(b, header, sizeof(header))) {
      out.unreadable++;
      break;  // the rest of the list hangs off this bucket
    }
    const uint64_t next = header[facts.bucket_allnext_offset / 8];
    const uint64_t nstk = header[facts.bucket_nstk_offset / 8];
    if (header[facts.bucket_typ_offset / 8] != kMemProfileBucket || nstk > facts.max_profile_stack_depth) {
      out.unreadable++;
      b = next;
      continue;
    }
    // What this bucket costs to keep, and the visited set's share.
    const uint64_t cost = sizeof(RawBucket) + nstk * word + 32;
    if (kept_bytes + cost > limits.max_bytes) {
      out.cut = fmt::format("the heap profile was cut after {} buckets: over {} MiB", steps - 1,
                            limits.max_bytes >> 20);
      break;
    }
    kept_bytes += cost;
    body.resize(nstk + record_bytes / word);
    if (!mem.read(b + uint64_t(facts.bucket_header_size), body.data(), body.size() * word)) {
      out.unreadable++;
      b = next;
      continue;
    }
    RawBucket r;
    r.bucket.address = b;
    r.bucket.size = header[facts.bucket_size_offset / 8];
    r.bucket.stack.assign(body.begin(), body.begin() + long(nstk));
    const uint64_t* rec = body.data() + nstk;  // {allocs, frees, ...} per cycle
    const size_t stride = size_t(facts.mem_record_cycle_words);
    r.active_allocs = rec[0];
    r.active_frees = rec[1];
    for (int c = 0; c < kFutureCycles; c++) {
      r.future_allocs[c] = rec[stride * (1 + c)];
      r.future_frees[c] = rec[stride * (1 + c) + 1];
    }
    any_active |= r.active_allocs != 0 || r.active_frees != 0;
    raw.push_back(std::move(r));
    b = next;
  }

  // memProfileInternal: flush the current cycle's slot into active; with
  // no active count at all (no GC yet), every slot.
  const int current = int(out.cycle % kFutureCycles);
  for (RawBucket& r : raw) {
    HeapBucket& h = r.bucket;
    h.allocs = r.active_allocs;
    h.frees = r.active_frees;
    for (int c = 0; c < kFutureCycles; c++)
      if (!any_active || c == current) {
        h.allocs += r.future_allocs[c];
        h.frees += r.future_frees[c];
      }
    if (h.allocs == 0 && h.frees == 0) continue;
    out.buckets.push_back(std::move(h));
  }
  out.read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

uint32_t gc_cycles_between(const HeapProfileReading& start, const HeapProfileReading& end) {
  // mprof.go: mProfCycleWrap = len(memRecord{}.future) * (2 << 24).
  constexpr uint32_t kWrap = uint32_t(kFutureCycles) * (2u << 24);
  return (end.cycle + kWrap - start.cycle % kWrap) % kWrap;
}

}  // namespace mws::target
