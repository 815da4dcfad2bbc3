// Charges each C heap stack (--c-heap) to the Go middleware on it, by the
// same rules as Go allocations, and sums them per middleware.
#pragma once

#include "attribute/middleware_rules.h"
#include "model/profile.h"

namespace mws::attribute {

// C allocations on a thread where no goroutine was in a cgo call (a C
// thread, the runtime's own): no Go code asked for them.
inline constexpr const char* kNoGoroutine = "(no goroutine)";

void attribute_c_heap(Profile& profile, const MiddlewareRules& rules);

}  // namespace mws::attribute
