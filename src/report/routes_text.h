// The "By route" section of the text report (issue 29): one row per route,
// heaviest first: requests, objects and bytes per request, the heap its
// stacks hold (apportioned), leaked goroutines and its top middleware.
// Empty unless the profile recorded routes.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

std::string render_routes_text(const Profile& profile, size_t top_n);

}  // namespace mws
