#include "report/folded.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "report/routes.h"
#include "report/text_format.h"
#include "util/sequence_hash.h"

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
  if (weight == Weight::CBytes) return "C heap: bytes allocated while recording (" + profile.c_heap.libc + ")";
  if (weight == Weight::CInuseBytes)
    return "C heap: bytes allocated while recording and still allocated at the end (" + profile.c_heap.libc + ")";
  if (needs_heap(weight) && m.heap_read && m.heap_profile_rate == 0)
    return "empty: the runtime's heap profile holds nothing while its MemProfileRate is 0";
  if (needs_heap(weight))
    return fmt::format("heap in use as of the last GC before the end, in {} (the runtime's profile, MemProfileRate {}{})",
                       weight == Weight::InuseBytes ? "bytes" : "objects", m.heap_profile_rate,
                       m.heap_profile_rate > 1 ? ", estimates scaled like pprof" : "");
  if (!m.allocations_tracked)
    return m.allocations_unavailable.rfind("not requested", 0) == 0 || m.allocations_unavailable.empty()
               ? "empty: no allocation was recorded (--no-allocs)"
               : "empty: no allocation was recorded; the report says why";
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
    case Weight::CBytes:
    case Weight::CInuseBytes: break;  // above
  }
  return out + std::string(name(weight));
}

namespace {

// One folded line before it is written: its frame names (indexes into
// FoldedNames::text), root first, and its summed weight.
struct FoldedLine {
  std::vector<uint32_t> names;
  uint64_t weight = 0;
};

// The distinct folded frame names of a profile, each sanitized once.
struct FoldedNames {
  std::vector<std::string> text;
  std::map<std::string, uint32_t> index;
  uint32_t intern(const std::string& folded) {
    auto [it, fresh] = index.try_emplace(folded, static_cast<uint32_t>(text.size()));
    if (fresh) text.push_back(folded);
    return it->second;
  }
};

// Reads a line's text ("a;b;c 42") one character at a time, without
// building it, so that lines sort by their text as documented.
class LineCursor {
 public:
  LineCursor(const FoldedLine& line, const FoldedNames& names) : line_(line), names_(names) {}
  // The next character, or -1 at the end.
  int next() {
    while (true) {
      if (name_ < line_.names.size()) {
        const std::string& t = names_.text[line_.names[name_]];
        if (pos_ < t.size()) return static_cast<unsigned char>(t[pos_++]);
        name_++;
        pos_ = 0;
        return name_ < line_.names.size() ? ';' : ' ';
      }
      if (count_.empty()) count_ = std::to_string(line_.weight);
      if (pos_ < count_.size()) return static_cast<unsigned char>(count_[pos_++]);
      return -1;
    }
  }

 private:
  const FoldedLine& line_;
  const FoldedNames& names_;
  size_t name_ = 0, pos_ = 0;
  std::string count_;
};

bool text_less(const FoldedLine& a, const FoldedLine& b, const FoldedNames& names) {
  LineCursor x(a, names), y(b, names);
  while (true) {
    const int cx = x.next(), cy = y.next();
    if (cx != cy) return cx < cy;
    if (cx < 0) return false;
  }
}

}  // namespace

void write_folded(const Profile& profile, Weight weight, FoldedGroupBy group_by, std::ostream& out) {
  // Lines are merged and sorted as name indexes, never as whole text: a
  // million stacks of 30 frames would be a gigabyte of text. Distinct
  // ProfileStacks can fold to the same line (same functions, different
  // file:line or inlining).
  FoldedNames names;
  std::vector<uint32_t> frame_name(profile.frames.size());
  for (FrameId id = 0; id < profile.frames.size(); id++)
    frame_name[id] = names.intern(folded_frame_name(profile.frame(id).function));
  const uint32_t no_stack = names.intern("[no stack]");

  const uint32_t go_statement = names.intern(kGoStatementFrame);

  std::unordered_map<std::vector<uint32_t>, uint64_t, SequenceHash> merged;
  std::vector<uint32_t> key;
  // One line: [middleware or route;] [a spawn chain's creation stacks,
  // outermost generation first, each ending at "[go statement]";] the
  // stack. Only chains that name a middleware are spliced in.
  auto add = [&](const std::vector<FrameId>& frame_ids, const std::string& root, const SpawnChain* chain,
                 uint64_t w) {
    if (w == 0) return;
    key.clear();
    if (group_by != FoldedGroupBy::None)
      key.push_back(names.intern(folded_frame_name(root)));
    if (chain)
      for (auto c = chain->creation_stacks.rbegin(); c != chain->creation_stacks.rend(); ++c) {
        for (auto it = c->rbegin(); it != c->rend(); ++it) key.push_back(frame_name[*it]);
        key.push_back(go_statement);
      }
    if (frame_ids.empty()) key.push_back(no_stack);
    for (auto it = frame_ids.rbegin(); it != frame_ids.rend(); ++it) key.push_back(frame_name[*it]);  // root first
    uint64_t& sum = merged[key];
    sum = sat_add(sum, w);  // saturate rather than wrap, like total_weight()
  };
  // Go allocation weights split by spawn chain (in-use is not split: the
  // runtime's profile does not know goroutines).
  const bool split = weight == Weight::Objects || weight == Weight::Bytes || weight == Weight::Samples;
  auto share_weight = [&](const auto& share) {
    return weight == Weight::Objects ? share.objects : weight == Weight::Bytes ? share.bytes : share.samples;
  };
  // One part of a stack (all of it, or one route's share, `part` of its
  // `whole` weight) under `root`.
  auto add_stack = [&](const ProfileStack& s, const std::string& root, uint64_t part, uint64_t whole) {
    uint64_t rest = part;
    if (split)
      for (const SpawnShare& share : s.spawned_by) {
        // Splice a creation chain only where it carries attribution (a
        // goroutine some middleware or handler started); any other stack
        // starts at its goroutine's entry, as in pprof, instead of under
        // the accept loop's tall, empty stem.
        if (share.chain >= profile.spawn_chains.size() || profile.spawn_chains[share.chain].middleware.empty())
          continue;
        const uint64_t w = std::min(rest, apportion(share_weight(share), part, whole));
        add(s.frame_ids, root, &profile.spawn_chains[share.chain], w);
        rest -= w;
      }
    add(s.frame_ids, root, nullptr, rest);
  };
  static const std::string kUnattributed = "(unattributed)", kNoRoute = "(no route recorded)";
  if (is_c_heap(weight))
    for (const CHeapStack& s : profile.c_heap.stacks)
      add(s.frame_ids, group_by == FoldedGroupBy::Route ? kNoRoute : s.middleware.empty() ? kUnattributed : s.middleware,
          nullptr, c_weight_of(s, weight));
  else
    for (const ProfileStack& s : profile.stacks) {
      const uint64_t w = weight_of(s, weight);
      if (group_by != FoldedGroupBy::Route || s.by_route.empty()) {
        add_stack(s, group_by == FoldedGroupBy::Route ? kNoRoute : s.middleware.empty() ? kUnattributed : s.middleware,
                  w, w);
        continue;
      }
      std::vector<int64_t> inuse;
      if (needs_heap(weight)) inuse = split_inuse(s, static_cast<int64_t>(w));
      // Shares that fall short of the stack (they should not) leave the
      // rest under "(no route recorded)" rather than lost.
      uint64_t rest = w;
      for (size_t k = 0; k < s.by_route.size(); k++) {
        const RouteShare& r = s.by_route[k];
        const std::string& name = route_name(profile, r.route);
        const uint64_t part = std::min(rest, needs_heap(weight) ? non_negative(inuse[k]) : share_weight(r));
        add_stack(s, name.empty() ? kNoRoute : name, part, w);
        rest -= part;
      }
      add_stack(s, kNoRoute, rest, w);
    }

  std::vector<FoldedLine> lines;
  lines.reserve(merged.size());
  for (auto it = merged.begin(); it != merged.end(); it = merged.erase(it))
    lines.push_back(FoldedLine{it->first, it->second});
  std::sort(lines.begin(), lines.end(),
            [&](const FoldedLine& a, const FoldedLine& b) { return text_less(a, b, names); });

  for (const FoldedLine& line : lines) {
    for (size_t i = 0; i < line.names.size(); i++) {
      if (i) out.put(';');
      out << names.text[line.names[i]];
    }
    out << ' ' << line.weight << '\n';
  }
}

std::string render_folded(const Profile& profile, Weight weight, FoldedGroupBy group_by) {
  std::ostringstream out;
  write_folded(profile, weight, group_by, out);
  return std::move(out).str();
}

}  // namespace mws
