// Hash and equality for sequences of integers: a stack of return addresses,
// of frame ids, of folded-name ids. For hash maps keyed by such a sequence,
// or by a span viewing one that lives elsewhere (std::span has no ==).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace mws {

struct SequenceHash {
  template <typename Sequence>
  size_t operator()(const Sequence& s) const {
    uint64_t h = 0xcbf29ce484222325ull ^ std::size(s);
    for (auto v : s) h ^= uint64_t(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
  }
};

struct SequenceEq {
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::equal(std::begin(a), std::end(a), std::begin(b), std::end(b));
  }
};

}  // namespace mws
