// Weight: which counter of a Profile a reporter ranks and sums by.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "model/profile.h"
#include "util/result.h"

namespace mws {

enum class Weight { Bytes, Objects };

// "bytes" | "objects" (the spelling the CLI accepts and name() returns).
inline Result<Weight> parse_weight(std::string_view s) {
  if (s == "bytes") return Weight::Bytes;
  if (s == "objects") return Weight::Objects;
  return Error{"unknown weight \"" + std::string(s) + "\": use bytes or objects"};
}

inline std::string_view name(Weight w) {
  return w == Weight::Bytes ? "bytes" : "objects";
}

// The counter of one stack that `w` selects.
inline uint64_t weight_of(const ProfileStack& s, Weight w) {
  return w == Weight::Bytes ? s.bytes : s.objects;
}

// Sum of weight_of over all stacks; saturates at UINT64_MAX instead of
// wrapping (a report must never show a small number for a huge one).
inline uint64_t total_weight(const Profile& p, Weight w) {
  uint64_t sum = 0;
  for (const ProfileStack& s : p.stacks) {
    const uint64_t v = weight_of(s, w);
    sum = sum > std::numeric_limits<uint64_t>::max() - v ? std::numeric_limits<uint64_t>::max()
                                                          : sum + v;
  }
  return sum;
}

}  // namespace mws
