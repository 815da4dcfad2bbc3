// Turns the C heap's ring-buffer records (bpf/events.h, MWS_EV_C_*) into
// CHeapTracker updates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/c_heap_tracker.h"

namespace mws::collect {

class CHeapDecoder {
 public:
  explicit CHeapDecoder(model::CHeapTracker& heap) : heap_(heap) {}
  void decode(const void* data, size_t size);
  uint64_t malformed() const { return malformed_; }

 private:
  model::CHeapTracker& heap_;
  uint64_t malformed_ = 0;
};

}  // namespace mws::collect
