#include "model/stack_table.h"

#include <algorithm>

namespace mws::model {

size_t StackTable::SpanHash::operator()(std::span<const uint64_t> s) const {
  uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  for (uint64_t v : s) h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

bool StackTable::SpanEq::operator()(std::span<const uint64_t> a, std::span<const uint64_t> b) const {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

std::optional<StackId> StackTable::intern(std::span<const uint64_t> pcs) {
  if (auto it = index_.find(pcs); it != index_.end()) return it->second;
  if (stacks_.size() >= max_stacks_) return std::nullopt;
  StackId id = static_cast<StackId>(stacks_.size());
  stacks_.emplace_back(pcs.begin(), pcs.end());
  index_.emplace(std::span<const uint64_t>(stacks_.back()), id);
  return id;
}

}  // namespace mws::model
