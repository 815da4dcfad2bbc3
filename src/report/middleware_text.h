// The "Allocations by middleware" section of the text report: one row per
// middleware (self allocations, per request, share, leaked goroutines),
// its top types and sites, and the chains seen. Reads a Profile only.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

std::string render_middleware_text(const Profile& profile, size_t top_n);

}  // namespace mws
