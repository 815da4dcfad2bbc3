#include "model/aggregator.h"

namespace mws::model {

bool Aggregator::add_alloc(std::span<const uint64_t> pcs, uint64_t size, uint64_t type_addr) {
  auto id = stacks_.intern(pcs);
  if (!id) {
    dropped_++;
    return false;
  }
  StackCounts& c = counts_[AllocKey{*id, type_addr}];
  c.objects++;
  c.bytes += size;
  events_++;
  return true;
}

StackCounts Aggregator::counts(StackId id) const {
  StackCounts total;
  for (const auto& [k, c] : counts_)
    if (k.stack == id) {
      total.objects += c.objects;
      total.bytes += c.bytes;
    }
  return total;
}

}  // namespace mws::model
