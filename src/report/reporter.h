// Writing and reading report files: atomically, streamed, with errors that
// name the path and the step. Each format is one file of its own (text.cpp,
// folded.cpp, json.cpp, ...). Nothing here prints: the CLI decides what to
// do with an Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "util/result.h"

namespace mws {

// Writes `bytes` to `path` atomically: a temporary file next to it
// (path + ".tmp.<pid>.<n>", created with mode 0600), written, fsynced,
// then renamed over `path`, so a reader never sees a half-written file and a
// failure leaves any previous file intact. Errors name the path, the step and
// the errno text: "cannot write out/p.json: create temporary file: No such
// file or directory". A path whose directory part is a symlink owned by
// another user in a sticky world-writable directory (/tmp) is refused.
Status write_file(const std::string& path, std::string_view bytes);
// The same, for output produced piece by piece: `produce` writes into a
// buffered stream on the temporary file, so a report as big as a million
// stacks never sits whole in memory. A write error (disk full) stops at the
// first failed write and is reported like any other.
Status write_file(const std::string& path, const std::function<void(std::ostream&)>& produce);
// Writes `bytes` to a new file DIR/STEM EXT, or DIR/STEM-2 EXT, -3 ...: the
// first name no file has. An existing file is never overwritten (a
// pipeline that picks files up may still be reading it). Returns the path.
Result<std::string> write_new_file(const std::string& dir, const std::string& stem, const std::string& ext,
                                   std::string_view bytes);
// Whether write_file(path) can create its file: checked before recording,
// so that a bad output path is refused before anything attaches. Creates
// and removes a temporary file beside path.
Status check_writable(const std::string& path);

// Reads a whole regular file of at most max_bytes (e.g. a saved
// profile.json). Refuses, in one line naming the path, anything else: a
// FIFO, a device (/dev/zero), a directory, a larger file. Errors name the
// path and the errno text.
inline constexpr uint64_t kMaxProfileFileBytes = 4ull << 30;
Result<std::string> read_file(const std::string& path, uint64_t max_bytes = kMaxProfileFileBytes);

}  // namespace mws
