// Formatting helpers shared by the text reports: numbers with thousands
// separators, human byte units, column padding that counts code points,
// and sanitizing of names that come from the target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/profile.h"
#include "util/saturating.h"

namespace mws::textfmt {

using mws::sat_add;  // util/saturating.h
std::string grouped(uint64_t n);  // "1234567" -> "1,234,567"
std::string signed_grouped(int64_t n);  // "-1234" -> "-1,234"
std::string signed_count(int64_t n);    // a change: "+40", "0", "-1,234"
std::string human_bytes(double b);
std::string human_bytes(uint64_t b);
std::string signed_bytes(int64_t b);  // "-1.2 KiB"
std::string change_bytes(int64_t b);  // a change: "+1.2 KiB", "0 B", "-300 B"
std::string growth_per_min(double bytes_per_min);  // "+1.2 MiB/min", "-300 B/min"
std::string rate(double per_s);
std::string percent(uint64_t part, uint64_t whole);
std::string duration(double s);
std::string short_duration(double s);  // for a column: "12.3s", "1m02s", "2h05m", "3d04h"; "-" when unknown
std::string utc_time(uint64_t unix_ns);
std::string printable(std::string_view s);  // util/terminal_text.h: controls and invalid UTF-8 -> \xNN
size_t width(std::string_view s);            // columns (code points)
size_t byte_offset(std::string_view s, size_t cp);
// Shortening to w columns, never in the middle and never inside a UTF-8
// sequence. A name loses its left end: a Go name its package path first
// ("github.com/x/y/pkg.(*T).M" -> "pkg.(*T).M"), then whatever is still too
// long its leading characters behind a "…" (C/C++ names, paths: the tail).
std::string shorten_name(std::string_view name, size_t w);
std::string keep_tail(std::string_view s, size_t w);  // "…" + the last w-1 columns
std::string clip_end(std::string_view s, size_t w);   // prose: the first w-1 columns + "…"
// "function location" in w columns: the location whole when it leaves the
// name 20 columns, the name shortened by shorten_name.
std::string name_at(std::string_view name, std::string_view location, size_t w);
// The items that fit in w columns, whole, joined by sep; "… +N more" (or
// "+N more") says how many did not fit.
std::string fit_list(const std::vector<std::string>& items, std::string_view sep, size_t w);
std::string pad(std::string_view s, size_t w);
std::string rpad(std::string_view s, size_t w);
std::string short_file(std::string_view file);  // last two path components
std::string location(const Frame& f);           // "pkg/file.go:42"
std::string function_name(const Frame& f);

}  // namespace mws::textfmt
