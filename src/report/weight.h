// Weight: which counter of a Profile a reporter ranks and sums by.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "model/profile.h"
#include "util/saturating.h"
#include "util/result.h"

namespace mws {

// Bytes and Objects: counted (exact mode) or estimated (sampled mode).
// Samples: raw sampled allocations (sampled mode only). InuseBytes,
// InuseObjects: the whole heap in use as of the last GC before the end, from
// the runtime's own profile (any mode, when it could be read).
// CBytes, CInuseBytes: the C heap (--c-heap), bytes allocated while
// recording and, of those, still allocated at the end.
enum class Weight { Bytes, Objects, Samples, InuseBytes, InuseObjects, CBytes, CInuseBytes };

struct WeightName {
  Weight weight;
  std::string_view name;
};
inline constexpr WeightName kWeightNames[] = {{Weight::Bytes, "bytes"},
                                              {Weight::Objects, "objects"},
                                              {Weight::Samples, "samples"},
                                              {Weight::InuseBytes, "inuse-bytes"},
                                              {Weight::InuseObjects, "inuse-objects"},
                                              {Weight::CBytes, "c-bytes"},
                                              {Weight::CInuseBytes, "c-inuse-bytes"}};

// The spelling the CLI accepts (--weight) and name() returns.
inline Result<Weight> parse_weight(std::string_view s) {
  for (const WeightName& w : kWeightNames) {
    if (w.name == s) return w.weight;
  }
  return Error{"unknown weight \"" + std::string(s) +
               "\": use bytes, objects, samples, inuse-bytes, inuse-objects, c-bytes or c-inuse-bytes"};
}

inline std::string_view name(Weight w) {
  for (const WeightName& n : kWeightNames) {
    if (n.weight == w) return n.name;
  }
  return "?";
}

// Whether `w` reads counters that only sampled mode fills.
inline bool needs_sampled_mode(Weight w) { return w == Weight::Samples; }
inline bool needs_heap(Weight w) { return w == Weight::InuseBytes || w == Weight::InuseObjects; }
inline bool is_c_heap(Weight w) { return w == Weight::CBytes || w == Weight::CInuseBytes; }

// A weight the profile has no counts for would give an empty flame graph:
// refused with one line the CLI prints.
inline Status check_weight(const Profile& p, Weight w) {
  if (is_c_heap(w) && !p.c_heap.recorded)
    return Error{"--weight " + std::string(name(w)) + ": this profile has no C heap (record with --c-heap)"};
  if (needs_heap(w) && !p.meta.heap_read)
    return Error{"--weight " + std::string(name(w)) + ": the heap in use is unknown for this profile (" +
                 p.meta.heap_problem + "); use bytes or objects"};
  if (!needs_sampled_mode(w) || p.sampled()) return Ok{};
  const std::string mode = p.meta.mode.empty() ? "an unknown mode" : "--mode " + p.meta.mode;
  return Error{"--weight " + std::string(name(w)) +
               " needs a sampled-mode profile (this one was recorded with " + mode +
               "); use bytes or objects"};
}

// A weight is never negative (a torn reading could make one so).
inline uint64_t non_negative(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

// The counter that `w` selects in anything with the counters of a
// ProfileStack (a stack, an AllocationSite, a MiddlewareRow).
template <typename Counts>
uint64_t weight_of(const Counts& c, Weight w) {
  switch (w) {
    case Weight::Bytes: return c.bytes;
    case Weight::Objects: return c.objects;
    case Weight::Samples: return c.samples;
    case Weight::InuseBytes: return non_negative(c.inuse_bytes);
    case Weight::InuseObjects: return non_negative(c.inuse_objects);
    case Weight::CBytes:
    case Weight::CInuseBytes: return 0;  // C heap stacks: c_weight_of
  }
  return 0;
}

inline uint64_t c_weight_of(const CHeapStack& s, Weight w) {
  return w == Weight::CBytes ? s.bytes : w == Weight::CInuseBytes ? s.inuse_bytes : 0;
}

// Sum of weight_of over all stacks; saturates at UINT64_MAX instead of
// wrapping (a report must never show a small number for a huge one).
inline uint64_t total_weight(const Profile& p, Weight w) {
  uint64_t sum = 0;
  for (const ProfileStack& s : p.stacks) {
    sum = sat_add(sum, weight_of(s, w));
  }
  return sum;
}

}  // namespace mws
