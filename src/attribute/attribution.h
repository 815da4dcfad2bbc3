// Charges every allocation and every goroutine group of a Profile to the
// middleware whose code made it, and fills Profile::middleware, ::chains
// and ::user_rules. Reads and writes only the Profile.
#pragma once

#include "attribute/middleware_rules.h"
#include "model/profile.h"

namespace mws::attribute {

inline constexpr const char* kServer = "(server)";

// Requests (profile.requests) must be set before: per-request figures use it.
void attribute_profile(Profile& profile, const MiddlewareRules& rules, size_t top_n = 5);

}  // namespace mws::attribute
