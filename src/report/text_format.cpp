#include "report/text_format.h"

#include "util/terminal_text.h"

#include <fmt/format.h>

#include <cmath>
#include <ctime>
#include <limits>

namespace mws::textfmt {

namespace {

// |n| without overflow for INT64_MIN.
uint64_t magnitude(int64_t n) { return n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n); }

}  // namespace

// "1234567" -> "1,234,567".
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string signed_grouped(int64_t n) { return (n < 0 ? "-" : "") + grouped(magnitude(n)); }
std::string signed_count(int64_t n) { return (n > 0 ? "+" : "") + signed_grouped(n); }

std::string human_bytes(double b) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (b < 1024) return fmt::format("{} B", static_cast<uint64_t>(b));
  int u = -1;
  while (b >= 1024 && u < 5) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

std::string human_bytes(uint64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  return human_bytes(static_cast<double>(b));
}

std::string signed_bytes(int64_t b) { return (b < 0 ? "-" : "") + human_bytes(magnitude(b)); }
std::string change_bytes(int64_t b) { return (b > 0 ? "+" : "") + signed_bytes(b); }

std::string growth_per_min(double bytes_per_min) {
  if (!std::isfinite(bytes_per_min)) return "?";
  return fmt::format("{}{}/min", bytes_per_min < 0 ? '-' : '+', human_bytes(std::fabs(bytes_per_min)));
}

std::string rate(double per_s) {
  if (per_s < 100) return fmt::format("{:.1f}", per_s);
  if (per_s >= 1e19) return fmt::format("{:.3g}", per_s);
  return grouped(static_cast<uint64_t>(std::llround(per_s)));
}

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string duration(double s) {
  if (!std::isfinite(s) || s <= 0) return "unknown";
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto total = static_cast<uint64_t>(std::llround(s));
  if (total < 3600) return fmt::format("{:.1f} s ({}m {:02}s)", s, total / 60, total % 60);
  return fmt::format("{:.0f} s ({}h {:02}m)", s, total / 3600, total % 3600 / 60);
}

std::string short_duration(double s) {
  if (!std::isfinite(s) || s <= 0) return "-";
  if (s < 60) return fmt::format("{:.1f}s", s);
  const auto t = static_cast<uint64_t>(std::llround(s));
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  if (t < 86400) return fmt::format("{}h{:02}m", t / 3600, t % 3600 / 60);
  return fmt::format("{}d{:02}h", t / 86400, t % 86400 / 3600);
}

std::string utc_time(uint64_t unix_ns) {
  if (unix_ns == 0) return "unknown";
  const auto secs = static_cast<std::time_t>(unix_ns / 1000000000ULL);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "unknown";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Names and paths come from the target: a control character must not break
// the table (or drive the terminal). The one sanitizer (util/terminal_text.h).
std::string printable(std::string_view s) { return terminal_safe(s); }

// Columns a UTF-8 string takes (one per code point; good enough for names).
size_t width(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Byte offset of the code point number `cp` in s.
size_t byte_offset(std::string_view s, size_t cp) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cp) return i;
      ++seen;
    }
  }
  return s.size();
}

namespace {

constexpr std::string_view kEllipsis = "…";  // one column

// Bytes of s's Go package path ("github.com/x/y/" of
// "github.com/x/y/pkg.(*T).M"), 0 when it has none. The path ends at the
// last '/' before the first '.' that follows it, looked for in the name up to
// its receiver, type arguments or a following location, so that a '/' inside
// "(*T[a/b.C])" or after a space does not count. Leading "*" and "[]" of a
// type name stay ("[]*net/http.Request" -> "[]*http.Request": 5 bytes, from 3).
struct PackagePath {
  size_t from = 0, len = 0;
};
PackagePath go_package_path(std::string_view s) {
  if (s.find("::") != std::string_view::npos) return {};  // C++
  size_t from = 0;
  while (from < s.size()) {
    if (s[from] == '*') {
      ++from;
    } else if (s[from] == '[') {
      const size_t close = s.find(']', from);
      if (close == std::string_view::npos) return {};
      from = close + 1;
    } else {
      break;
    }
  }
  const std::string_view rest = s.substr(from);
  const std::string_view head = rest.substr(0, rest.find_first_of("([{ "));
  const size_t slash = head.rfind('/');
  if (slash == std::string_view::npos || head.find('.', slash) == std::string_view::npos) return {};
  return {from, slash + 1};
}

}  // namespace

std::string keep_tail(std::string_view s, size_t w) {
  const size_t n = width(s);
  if (n <= w) return std::string(s);
  if (w == 0) return "";
  return std::string(kEllipsis) + std::string(s.substr(byte_offset(s, n - (w - 1))));
}

std::string clip_end(std::string_view s, size_t w) {
  if (width(s) <= w) return std::string(s);
  if (w == 0) return "";
  return std::string(s.substr(0, byte_offset(s, w - 1))) + std::string(kEllipsis);
}

std::string shorten_name(std::string_view name, size_t w) {
  if (width(name) <= w) return std::string(name);
  const PackagePath pkg = go_package_path(name);
  std::string s(name);
  if (pkg.len > 0) s.erase(pkg.from, pkg.len);
  return keep_tail(s, w);
}

std::string name_at(std::string_view name, std::string_view location, size_t w) {
  if (location.empty()) return shorten_name(name, w);
  const size_t lw = width(location);
  if (lw + 1 + 20 <= w) return shorten_name(name, w - lw - 1) + " " + std::string(location);
  return shorten_name(name, 20 <= w ? 20 : w) + " " + keep_tail(location, w > 21 ? w - 21 : 0);
}

std::string fit_list(const std::vector<std::string>& items, std::string_view sep, size_t w) {
  std::string out;
  size_t used = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t more = items.size() - i - 1;
    // What must still fit after this item when it is not the last: the note.
    const std::string note = more ? fmt::format("{}… +{} more", sep, more) : "";
    const size_t add = (i ? width(sep) : 0) + width(items[i]);
    if (used + add + width(note) > w && i > 0) {
      const std::string rest = fmt::format("{}… +{} more", sep, items.size() - i);
      return out + (used + width(rest) <= w ? rest : clip_end(rest, w - used));
    }
    if (used + add > w) return clip_end(items[i], w);  // the first item alone is too wide
    if (i) out += sep;
    out += items[i];
    used += add;
  }
  return out;
}

std::string pad(std::string_view s, size_t w) {
  std::string out(s);
  const size_t n = width(s);
  if (n < w) out.append(w - n, ' ');
  return out;
}

std::string rpad(std::string_view s, size_t w) {
  const size_t n = width(s);
  return n < w ? std::string(w - n, ' ') + std::string(s) : std::string(s);
}

// "/home/u/src/app/middleware/log.go" -> "middleware/log.go".
std::string short_file(std::string_view file) {
  const auto last = file.rfind('/');
  if (last == std::string_view::npos || last == 0) return std::string(file);
  const auto prev = file.rfind('/', last - 1);
  return std::string(prev == std::string_view::npos ? file : file.substr(prev + 1));
}

std::string location(const Frame& f) {
  if (f.file.empty()) return f.line ? fmt::format("?:{}", f.line) : "?";
  std::string loc = printable(short_file(f.file));
  if (f.line) loc += fmt::format(":{}", f.line);
  return loc;
}

std::string function_name(const Frame& f) {
  return f.function.empty() ? "[unknown]" : printable(f.function);
}

}  // namespace mws::textfmt
