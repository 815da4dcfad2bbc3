#include "report/text.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace mws {

namespace {

constexpr size_t kChainSites = 5;    // sites whose heaviest stack is shown
constexpr size_t kChainFrames = 12;  // frames shown per chain
constexpr size_t kLabelWidth = 17;   // header labels

uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

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

std::string utc_time(uint64_t unix_ns) {
  if (unix_ns == 0) return "unknown";
  const auto secs = static_cast<std::time_t>(unix_ns / 1000000000ULL);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "unknown";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Names and paths come from the target: a control character must not break
// the table (or drive the terminal), so each becomes '?'.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

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

// Shortens s to at most w columns by cutting its middle: Go names keep their
// package (head) and their function (tail).
std::string elide(std::string_view s, size_t w) {
  const size_t n = width(s);
  if (n <= w) return std::string(s);
  if (w <= 3) return std::string(s.substr(0, byte_offset(s, w)));
  const size_t keep = w - 3;
  const size_t head = keep / 2;
  const size_t tail = keep - head;
  return std::string(s.substr(0, byte_offset(s, head))) + "..." +
         std::string(s.substr(byte_offset(s, n - tail)));
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

void header_line(std::string& out, std::string_view label, std::string_view value) {
  out += fmt::format("  {}{}\n", pad(label, kLabelWidth), value);
}

void render_header(std::string& out, const Profile& p) {
  const ProfileMeta& m = p.meta;
  const size_t value_width = kTextWidth - 2 - kLabelWidth;
  out += m.tool_version.empty() ? "mwscope heap allocation report\n"
                                : fmt::format("mwscope {} heap allocation report\n",
                                              elide(printable(m.tool_version), 40));
  const std::string pid = fmt::format("pid {}  ", m.pid);
  header_line(out, "target",
              pid + elide(m.executable.empty() ? "(executable unknown)" : printable(m.executable),
                          value_width - pid.size()));
  header_line(out, "Go version",
              m.go_version.empty() ? "unknown (not a Go binary?)" : elide(printable(m.go_version), value_width));
  header_line(out, "mode", m.mode.empty() ? "unknown" : elide(printable(m.mode), value_width));
  header_line(out, "started", utc_time(m.started_unix_ns));
  header_line(out, "duration",
              fmt::format("{}, {} probe{} attached", duration(m.duration_s),
                          grouped(m.probes_attached), m.probes_attached == 1 ? "" : "s"));
  const uint64_t objects = total_weight(p, Weight::Objects);
  const uint64_t bytes = total_weight(p, Weight::Bytes);
  header_line(out, "allocations",
              fmt::format("{} objects, {} ({} bytes) in {} distinct stacks", grouped(objects),
                          human_bytes(bytes), grouped(bytes), grouped(p.stacks.size())));
  if (std::isfinite(m.duration_s) && m.duration_s > 0) {
    header_line(out, "rate",
                fmt::format("{} objects/s, {}/s", rate(static_cast<double>(objects) / m.duration_s),
                            human_bytes(static_cast<double>(bytes) / m.duration_s)));
  } else {
    header_line(out, "rate", "unknown (no duration recorded)");
  }
  // Always shown, even when 0: "no silent loss" (DESIGN.md).
  if (m.dropped_events == 0) {
    header_line(out, "dropped events", "0");
  } else {
    const uint64_t seen = sat_add(m.events, m.dropped_events);
    header_line(out, "dropped events",
                fmt::format("{} of {} events ({}) LOST: the counts below are too low",
                            grouped(m.dropped_events), grouped(seen), percent(m.dropped_events, seen)));
  }
  header_line(out, "stack problems",
              fmt::format("{} stack error{} (no usable stack), {} truncated stack{} (cut at max depth)",
                          grouped(m.stack_errors), m.stack_errors == 1 ? "" : "s",
                          grouped(m.truncated_stacks), m.truncated_stacks == 1 ? "" : "s"));
}

auto frame_key(const Frame& f) { return std::tie(f.function, f.file, f.line, f.inlined); }

// Deterministic order between stacks of equal weight, whatever the input order.
bool stack_tiebreak_less(const ProfileStack& a, const ProfileStack& b) {
  return std::lexicographical_compare(
      a.frames.begin(), a.frames.end(), b.frames.begin(), b.frames.end(),
      [](const Frame& x, const Frame& y) { return frame_key(x) < frame_key(y); });
}

void render_sites(std::string& out, const Profile& p, Weight weight, size_t top_n) {
  const std::vector<AllocationSite> sites = allocation_sites(p, weight);
  const uint64_t total = total_weight(p, weight);
  out += '\n';
  if (sites.empty()) {
    out += fmt::format("No allocations recorded (total {} is 0).\n", name(weight));
    return;
  }
  const size_t shown = top_n == 0 ? sites.size() : std::min(top_n, sites.size());
  out += fmt::format("Top {} allocation site{} by {} (of {} site{}; a site is the innermost non-runtime frame)\n",
                     shown, shown == 1 ? "" : "s", name(weight), sites.size(),
                     sites.size() == 1 ? "" : "s");

  struct Row { std::string rank, objects, bytes, share, function, location; };
  std::vector<Row> rows;
  Row head{"#", "objects", "bytes", "share", "function", "location"};
  size_t wr = head.rank.size(), wo = head.objects.size(), wb = head.bytes.size(),
         ws = head.share.size(), wf = head.function.size(), wl = head.location.size();
  for (size_t i = 0; i < shown; ++i) {
    const AllocationSite& s = sites[i];
    Row r{std::to_string(i + 1), grouped(s.objects), human_bytes(s.bytes),
          percent(weight == Weight::Bytes ? s.bytes : s.objects, total), function_name(s.frame),
          s.frame.function == "[no stack]" && s.frame.file.empty() ? "" : location(s.frame)};
    wr = std::max(wr, width(r.rank));
    wo = std::max(wo, width(r.objects));
    wb = std::max(wb, width(r.bytes));
    ws = std::max(ws, width(r.share));
    wf = std::max(wf, width(r.function));
    wl = std::max(wl, width(r.location));
    rows.push_back(std::move(r));
  }
  // Fit 120 columns: the location keeps up to 40, the function gets the rest.
  const size_t fixed = 2 + wr + 2 + wo + 2 + wb + 2 + ws + 2 + 2;
  wl = std::min<size_t>(wl, 40);
  wf = std::min(wf, std::max<size_t>(20, kTextWidth - fixed - wl));
  auto emit = [&](const Row& r) {
    std::string line = fmt::format("  {}  {}  {}  {}  {}  {}", rpad(r.rank, wr), rpad(r.objects, wo),
                                   rpad(r.bytes, wb), rpad(r.share, ws), pad(elide(r.function, wf), wf),
                                   elide(r.location, wl));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  };
  emit(head);
  for (const Row& r : rows) emit(r);

  if (shown < sites.size()) {
    uint64_t objects = 0, bytes = 0;
    for (size_t i = shown; i < sites.size(); ++i) {
      objects = sat_add(objects, sites[i].objects);
      bytes = sat_add(bytes, sites[i].bytes);
    }
    out += fmt::format("  ... {} more site{}: {} objects, {} ({})\n", sites.size() - shown,
                       sites.size() - shown == 1 ? "" : "s", grouped(objects), human_bytes(bytes),
                       percent(weight == Weight::Bytes ? bytes : objects, total));
  }

  // The heaviest full stack of each of the top sites, leaf first.
  const size_t chains = std::min(kChainSites, shown);
  out += fmt::format("\nHeaviest stack of the top {} site{} (leaf first, '>' marks the site)\n", chains,
                     chains == 1 ? "" : "s");
  for (size_t i = 0; i < chains; ++i) {
    const AllocationSite& s = sites[i];
    const ProfileStack& st = *s.heaviest;
    const uint64_t site_w = weight == Weight::Bytes ? s.bytes : s.objects;
    out += fmt::format("\n  #{} {}  heaviest of {} stack{}: {} objects, {} ({} of this site)\n", i + 1,
                       elide(function_name(s.frame), 40), s.stacks, s.stacks == 1 ? "" : "s",
                       grouped(st.objects), human_bytes(st.bytes),
                       percent(weight_of(st, weight), site_w));
    if (st.frames.empty()) {
      out += "      [no stack]  (the event had no usable user stack)\n";
      continue;
    }
    const size_t n = std::min(st.frames.size(), std::max(kChainFrames, s.site_index + 1));
    size_t fw = 0;
    for (size_t k = 0; k < n; ++k) fw = std::max(fw, width(function_name(st.frames[k])));
    const size_t indent = 6;
    fw = std::min(fw, kTextWidth - indent - 2 - 40 - 11);  // 11: " (inlined)"
    for (size_t k = 0; k < n; ++k) {
      const Frame& f = st.frames[k];
      std::string line = fmt::format("    {} {}  {}{}", k == s.site_index ? '>' : ' ',
                                     pad(elide(function_name(f), fw), fw), elide(location(f), 40),
                                     f.inlined ? " (inlined)" : "");
      out += line + '\n';
    }
    if (n < st.frames.size()) {
      const size_t more = st.frames.size() - n;
      out += fmt::format("      ... {} more frame{} (root: {})\n", more, more == 1 ? "" : "s",
                         elide(function_name(st.frames.back()), 60));
    }
  }
}

}  // namespace

bool is_runtime_function(std::string_view f) {
  return f.starts_with("runtime.") || f.starts_with("runtime/internal/") ||
         f.starts_with("internal/");
}

size_t site_frame_index(const std::vector<Frame>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    if (!is_runtime_function(frames[i].function)) return i;
  }
  return 0;
}

std::vector<AllocationSite> allocation_sites(const Profile& profile, Weight weight) {
  // Keyed by (no-stack?, function, file, line): a function with several
  // allocating lines has several sites, as in `pprof -lines`.
  std::map<std::tuple<bool, std::string, std::string, uint32_t>, AllocationSite> by_key;
  for (const ProfileStack& st : profile.stacks) {
    const uint64_t w = weight_of(st, weight);
    if (w == 0) continue;
    Frame frame;
    size_t index = 0;
    if (st.frames.empty()) {
      frame.function = "[no stack]";
    } else {
      index = site_frame_index(st.frames);
      frame = st.frames[index];
      frame.inlined = false;  // a property of one stack, not of the site
    }
    AllocationSite& s =
        by_key[std::make_tuple(st.frames.empty(), frame.function, frame.file, frame.line)];
    if (s.stacks == 0) s.frame = frame;
    s.objects = sat_add(s.objects, st.objects);
    s.bytes = sat_add(s.bytes, st.bytes);
    ++s.stacks;
    if (s.heaviest == nullptr || w > weight_of(*s.heaviest, weight) ||
        (w == weight_of(*s.heaviest, weight) && stack_tiebreak_less(st, *s.heaviest))) {
      s.heaviest = &st;
      s.site_index = index;
    }
  }
  std::vector<AllocationSite> sites;
  sites.reserve(by_key.size());
  for (auto& [key, s] : by_key) sites.push_back(std::move(s));
  // by_key is already ordered by name: a stable sort by weight breaks ties by name.
  std::stable_sort(sites.begin(), sites.end(), [&](const AllocationSite& a, const AllocationSite& b) {
    const uint64_t wa = weight == Weight::Bytes ? a.bytes : a.objects;
    const uint64_t wb = weight == Weight::Bytes ? b.bytes : b.objects;
    return wa > wb;
  });
  return sites;
}

std::string render_text(const Profile& profile, Weight weight, size_t top_n) {
  std::string out;
  render_header(out, profile);
  render_sites(out, profile, weight, top_n);
  return out;
}

}  // namespace mws
