#include "model/stack_table.h"

#include <algorithm>

namespace mws::model {

std::optional<StackId> StackTable::intern(std::span<const uint64_t> pcs) {
  if (auto it = index_.find(pcs); it != index_.end()) return it->second;
  if (stacks_.size() >= max_stacks_) return std::nullopt;
  StackId id = static_cast<StackId>(stacks_.size());
  stacks_.emplace_back(pcs.begin(), pcs.end());
  index_.emplace(std::span<const uint64_t>(stacks_.back()), id);
  return id;
}

}  // namespace mws::model
