// The --threads part of a Profile: the "Threads" text section and the
// --threads-folded flame-graph input. Reads a Profile and nothing else.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

// Text section, appended to the main report by render_text ("" when
// --threads was not given).
std::string render_threads_text(const Profile& profile, size_t top_n);

// One line per group of live threads at the end, root first, ';'-separated,
// a space and the number of threads: a root frame naming the holder
// ("[cgo call]", "[locked goroutine]", "[idle]", "[not a Go thread]"),
// then the holding goroutine's go statement and its stack (a thread that is
// no Go M: its creator's stack when created while recording, then its name
// and what the kernel says it waits in). Identical lines are merged; the
// weights sum to the live threads at the end.
std::string render_threads_folded(const Profile& profile);
// What the file holds, for the CLI to print beside its name.
std::string describe_threads_folded(const Profile& profile);

}  // namespace mws
