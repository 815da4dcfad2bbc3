#include "model/aggregator.h"

#include <algorithm>

namespace mws::model {

size_t Aggregator::SpanHash::operator()(std::span<const uint64_t> s) const {
  uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  for (uint64_t v : s) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  }
  return static_cast<size_t>(h);
}

bool Aggregator::SpanEq::operator()(std::span<const uint64_t> a, std::span<const uint64_t> b) const {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

bool Aggregator::add_alloc(std::span<const uint64_t> pcs, uint64_t size) {
  auto it = index_.find(pcs);
  StackId id;
  if (it != index_.end()) {
    id = it->second;
  } else {
    if (stacks_.size() >= max_stacks_) {
      dropped_++;
      return false;
    }
    id = static_cast<StackId>(stacks_.size());
    stacks_.push_back(RawStack{std::vector<uint64_t>(pcs.begin(), pcs.end())});
    counts_.push_back({});
    index_.emplace(std::span<const uint64_t>(stacks_.back().pcs), id);
  }
  counts_[id].objects++;
  counts_[id].bytes += size;
  events_++;
  return true;
}

}  // namespace mws::model
