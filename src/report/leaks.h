// The goroutine part of a Profile: the "Leaked goroutines" text section and
// the --leaks-folded flame-graph input. Reads a Profile and nothing else.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

// Text section, appended to the main report by render_text.
std::string render_leaks_text(const Profile& profile, size_t top_n);

// One line per group with leaked goroutines: the creation stack root
// first, ending with the frame that executed the go statement, a space,
// and the number of live goroutines of the group.
// Goroutines read from memory at the end come first, by the stack they are
// parked on (with --goroutines, only those alive at attach: the rest are in
// their creation groups).
std::string render_leaks_folded(const Profile& profile);
// What the file holds, for the CLI to print beside its name.
std::string describe_leaks_folded(const Profile& profile);

}  // namespace mws
