// The C heap section of a Profile (--c-heap) from what CHeapTracker kept:
// symbolized stacks with what each allocated, freed and still holds.
#pragma once

#include "collect/raw_recording.h"
#include "model/profile.h"
#include "symbolize/stack_symbolizer.h"

namespace mws::interpret {

CHeapSummary build_c_heap(const collect::RawRecording& raw, symbolize::StackSymbolizer& sym);

}  // namespace mws::interpret
