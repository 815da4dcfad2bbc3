// Turns the aggregator's raw stacks into a Profile: symbolizes every
// distinct address once and merges stacks that symbolize identically.
#pragma once

#include "model/aggregator.h"
#include "model/profile.h"
#include "symbolize/process_symbolizer.h"

namespace mws::model {

Profile build_profile(const Aggregator& agg, symbolize::ProcessSymbolizer& sym, ProfileMeta meta);

}  // namespace mws::model
