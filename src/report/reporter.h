// The small interface that ties the output formats together. Each format is
// one file (text.cpp, folded.cpp, json.cpp, ...) with one function
// Profile -> bytes; this file names them, picks one, and writes the bytes.
// Nothing here prints: the CLI decides what to do with an Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "model/profile.h"
#include "report/weight.h"
#include "util/result.h"

namespace mws {

enum class Format { Text, Folded, Json };

// "text" | "folded" | "json" (the spelling name() returns).
Result<Format> parse_format(std::string_view s);
std::string_view name(Format f);

struct ReportOptions {
  Weight weight = Weight::Bytes;  // text and folded: what to rank and sum by
  size_t top_n = 20;              // text: sites listed (0 = all)
};

// The bytes of `profile` in `format`. JSON ignores the options (it keeps both
// weights and every stack).
std::string render(const Profile& profile, Format format, const ReportOptions& options = {});

// Writes `bytes` to `path` atomically: a temporary file next to it
// (path + ".tmp.<pid>.<n>", created with mode 0666 & ~umask), written, fsynced,
// then renamed over `path`, so a reader never sees a half-written file and a
// failure leaves any previous file intact. Errors name the path, the step and
// the errno text: "cannot write out/p.json: create temporary file: No such
// file or directory".
Status write_file(const std::string& path, std::string_view bytes);
// The same, for output produced piece by piece: `produce` writes into a
// buffered stream on the temporary file, so a report as big as a million
// stacks never sits whole in memory. A write error (disk full) stops at the
// first failed write and is reported like any other.
Status write_file(const std::string& path, const std::function<void(std::ostream&)>& produce);
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
