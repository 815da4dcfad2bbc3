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

}  // namespace mws::model
