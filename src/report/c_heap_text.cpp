#include "report/c_heap_text.h"

#include <fmt/format.h>

#include <algorithm>

#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

constexpr size_t kStackFrames = 8;

std::string blocks(uint64_t n, uint64_t bytes) {
  return fmt::format("{} block{}, {}", grouped(n), n == 1 ? "" : "s", human_bytes(bytes));
}

}  // namespace

std::string render_c_heap_text(const Profile& p, size_t top_n) {
  const CHeapSummary& c = p.c_heap;
  if (!c.recorded) return "";
  std::string out = fmt::format("\nC heap ({})\n", printable(c.libc));
  out += fmt::format("  allocated while recording: {}; freed {}; still allocated at the end: {}\n",
                     blocks(c.allocs, c.bytes), blocks(c.frees, c.freed_bytes),
                     blocks(c.inuse_objects, c.inuse_bytes));
  if (p.meta.duration_s > 0)
    out += fmt::format("  rate: {} allocations/s, {}/s allocated, {} frees/s\n",
                       rate(double(c.allocs) / p.meta.duration_s), human_bytes(double(c.bytes) / p.meta.duration_s),
                       rate(double(c.frees) / p.meta.duration_s));
  if (c.frees_before_attach)
    out += fmt::format("  freed, allocated before attach (not charged to any stack): {} block{}, {} of chunks\n",
                       grouped(c.frees_before_attach), c.frees_before_attach == 1 ? "" : "s",
                       human_bytes(c.chunk_bytes_freed_before_attach));
  if (!c.go_stacks_unavailable.empty())
    out += fmt::format("  not charged to Go code: {}\n", printable(c.go_stacks_unavailable));
  else if (c.without_go_stack)
    out += fmt::format("  on threads with no goroutine in a cgo call: {} allocations\n", grouped(c.without_go_stack));
  out += fmt::format("  dropped: {}{}\n", grouped(c.dropped),
                     c.unmatched_returns ? fmt::format(" (and {} returns of calls under way at attach)",
                                                       grouped(c.unmatched_returns))
                                         : "");
  if (!c.middleware.empty()) {
    out += fmt::format("\n  {}  {:>28}  {:>28}\n", pad("By middleware", 40), "allocated", "in use at the end");
    for (size_t i = 0; i < c.middleware.size() && i < top_n; i++) {
      const CHeapMiddlewareRow& r = c.middleware[i];
      out += fmt::format("  {}  {:>28}  {:>28}\n", pad(shorten_name(printable(r.name), 40), 40), blocks(r.allocs, r.bytes),
                         blocks(r.inuse_objects, r.inuse_bytes));
    }
  }
  size_t shown = 0;
  for (const CHeapStack& s : c.stacks) {
    if (shown == top_n) break;
    if (s.inuse_bytes == 0 && s.bytes == 0) continue;
    out += fmt::format("\n  #{} {} in use ({} allocated){}{}, leaf first\n", ++shown,
                       blocks(s.inuse_objects, s.inuse_bytes), blocks(s.allocs, s.bytes),
                       s.inuse_objects ? fmt::format(", oldest {}", duration(s.oldest_inuse_age_s)) : "",
                       s.middleware.empty() ? "" : ", " + printable(s.middleware));
    const size_t n = std::min(s.frame_ids.size(), kStackFrames);
    for (size_t i = 0; i < n; i++) {
      const Frame& f = p.frame(s.frame_ids[i]);
      out += fmt::format("      {}  {}\n", pad(shorten_name(function_name(f), 60), 60), location(f));
    }
    if (s.frame_ids.size() > n) out += fmt::format("      ... {} more frames\n", s.frame_ids.size() - n);
  }
  return out;
}

}  // namespace mws
