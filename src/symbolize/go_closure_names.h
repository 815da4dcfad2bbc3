// Go's names for closures, and who made a closure that inlining renamed.
#pragma once

#include <string>
#include <string_view>

#include "target/gopclntab.h"

namespace mws::symbolize {

// Strips trailing closure suffixes: "main.Logging.func1" -> "main.Logging",
// "main.F.func1.2" -> "main.F"; other names unchanged.
std::string_view strip_closure_suffixes(std::string_view function);

// The function that made `closure`, by its own name, when Go named the
// closure after the function it was inlined into. Go 1.20-1.26 name a
// closure created by inlining "outer.inlined.funcN", with the inlined
// functions' bare names (no package): stampMW's closure, once stampMW is
// inlined into main.main, is "main.main.stampMW.func1", and the binary may
// hold no main.stampMW at all. The outer function's inline tree still
// records stampMW by its full name: "main.stampMW" (package included, even
// across packages). "" when `closure` is not such a name (Go 1.19 and 1.27
// name the closure "main.stampMW.func1", its owner is plain to see).
std::string inlined_closure_owner(const target::GoPclntab& table, std::string_view closure);

}  // namespace mws::symbolize
