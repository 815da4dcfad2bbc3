#include "report/folded.h"

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "report/text_format.h"

namespace mws {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not
// valid (bad lead byte, missing continuation, overlong, surrogate, > U+10FFFF).
size_t utf8_sequence_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                          // surrogate
  if (cp > 0x10FFFF) return 0;
  return n;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

}  // namespace

// Sanitizing, so that every line parses in flamegraph.pl, inferno and
// speedscope (all of them split a line at its LAST space into stack and
// count, and the stack at every ';'):
//  - ';' would split one frame into two: it becomes ':'.
//  - '\n', '\r' and every other control character (C0, DEL) would end or
//    corrupt the line: each becomes '?'.
//  - bytes that are not valid UTF-8 make inferno refuse the whole file (it
//    reads text as UTF-8): each such byte becomes '?'.
//  - an empty (or all-space) name becomes "[unknown]", the placeholder these
//    tools already use for frames without a symbol.
// Spaces inside a name are kept: the count is always after the last space.
std::string folded_frame_name(const std::string& function) {
  std::string out;
  out.reserve(function.size());
  for (size_t i = 0; i < function.size();) {
    const size_t n = utf8_sequence_length(function, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (n == 1) {
      const unsigned char c = static_cast<unsigned char>(function[i]);
      if (c == ';') out += ':';
      else if (c < 0x20 || c == 0x7F) out += '?';
      else out += function[i];
    } else {
      out.append(function, i, n);
    }
    i += n;
  }
  if (out.find_first_not_of(' ') == std::string::npos) return "[unknown]";
  return out;
}

std::string describe_folded(const Profile& profile, Weight weight) {
  const ProfileMeta& m = profile.meta;
  if (!profile.sampled()) {
    const std::string mode = m.mode.empty() ? "mode unknown" : textfmt::printable(m.mode) + " mode";
    return mode + ", " + std::string(name(weight));
  }
  std::string out = "sampled mode (MemProfileRate " +
                    (m.sample_rate == 0 ? std::string("unknown") : std::to_string(m.sample_rate)) + "), ";
  switch (weight) {
    case Weight::Bytes: return out + "estimated bytes";
    case Weight::Objects: return out + "estimated objects";
    case Weight::Samples: return out + "raw samples";
    case Weight::InuseBytes:
    case Weight::InuseObjects:
      out += weight == Weight::InuseBytes ? "estimated in-use bytes" : "estimated in-use objects";
      if (m.inuse_window_s <= 0) return out + " (not known yet: fewer than two GC ends while recording, so all 0)";
      return out + " gained between the first and the last GC end (negative counts as 0)";
  }
  return out + std::string(name(weight));
}

std::string render_folded(const Profile& profile, Weight weight, bool group_by_middleware) {
  // Rendered stack text -> summed weight. Distinct ProfileStacks can render
  // to the same text (same functions, different file:line or inlining).
  std::map<std::string, uint64_t> merged;
  for (const ProfileStack& s : profile.stacks) {
    const uint64_t w = weight_of(s, weight);
    if (w == 0) continue;
    std::string key;
    if (group_by_middleware)
      key = folded_frame_name(s.middleware.empty() ? "(unattributed)" : s.middleware);
    if (s.frames.empty()) {
      key += key.empty() ? "[no stack]" : ";[no stack]";
    } else {
      for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) {  // root first
        if (!key.empty()) key += ';';
        key += folded_frame_name(it->function);
      }
    }
    uint64_t& sum = merged[std::move(key)];
    sum = saturating_add(sum, w);  // saturate rather than wrap, like total_weight()
  }

  std::vector<std::string> lines;
  lines.reserve(merged.size());
  for (const auto& [stack, w] : merged) lines.push_back(stack + ' ' + std::to_string(w));
  std::sort(lines.begin(), lines.end());

  std::string out;
  for (const auto& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace mws
