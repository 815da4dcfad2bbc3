// The "C heap" text section (--c-heap): what glibc's allocator handed out
// while recording, what is still allocated, by middleware and by stack.
// Reads a Profile and nothing else.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

// Empty when the profile has no C heap.
std::string render_c_heap_text(const Profile& profile, size_t top_n);

}  // namespace mws
