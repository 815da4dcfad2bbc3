#include "model/aggregator.h"

namespace mws::model {

bool Aggregator::add_alloc(std::span<const uint64_t> pcs, uint64_t size) {
  auto id = stacks_.intern(pcs);
  if (!id) {
    dropped_++;
    return false;
  }
  if (*id >= counts_.size()) counts_.resize(*id + 1);
  counts_[*id].objects++;
  counts_[*id].bytes += size;
  events_++;
  return true;
}

}  // namespace mws::model
