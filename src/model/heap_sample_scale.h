// Scaling the Go runtime's heap samples to estimates, exactly as pprof does
// (runtime/pprof's scaleHeapSample): an object of size s is sampled with
// probability 1 - exp(-s/rate), so each sample of average size s stands
// for 1 / (1 - exp(-s/rate)) objects.
#pragma once

#include <cmath>
#include <cstdint>

namespace mws::model {

// Factor by which samples of `avg_size` bytes are multiplied at `rate`
// (runtime.MemProfileRate). Rate 1 records everything (factor 1); rate 0
// or an unknown size gives 1 as pprof does (no scaling possible).
inline double heap_sample_scale(double avg_size, uint64_t rate) {
  if (rate <= 1 || avg_size <= 0) return 1.0;
  return 1.0 / (1.0 - std::exp(-avg_size / double(rate)));
}

// pprof truncates the scaled values toward zero (int64(float64(x) * scale)).
inline int64_t scaled(int64_t raw, double scale) { return static_cast<int64_t>(double(raw) * scale); }

}  // namespace mws::model
