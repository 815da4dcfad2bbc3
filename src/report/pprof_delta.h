// The change between two pprof profiles of one target, as Go's
// net/http/pprof serves `?seconds=N`: every sample value of the later
// profile minus the earlier one's at the same stack and labels (so alloc_*
// is what was allocated in between, inuse_* how the heap in use changed,
// goroutine counts how each group grew). Samples that did not change are
// left out; its time is where the earlier one ended, its duration the time
// in between (both are mwscope's, which start at attach).
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace mws {

// Both gzip-compressed profile.proto of the same sample types; returns the
// gzip-compressed delta.
Result<std::string> pprof_delta(std::string_view before_gz, std::string_view after_gz);

}  // namespace mws
