#include "report/middleware_text.h"

#include <fmt/format.h>

#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

constexpr size_t kNameWidth = 36;
constexpr size_t kDetailRows = 6;  // rows that get their types and sites listed

std::string per_request(const Profile& p, double v, bool bytes) {
  if (!p.requests.counted || p.requests.requests == 0) return "-";
  if (bytes) return human_bytes(v);
  return v < 100 ? fmt::format("{:.2f}", v) : grouped(static_cast<uint64_t>(v + 0.5));
}

std::string list(const std::vector<NamedCount>& v, size_t n) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < n; i++) {
    if (i) s += ", ";
    s += fmt::format("{} ({} x{})", printable(v[i].name), human_bytes(v[i].bytes), grouped(v[i].objects));
  }
  return s.empty() ? "-" : s;
}

}  // namespace

std::string render_middleware_text(const Profile& p, size_t top_n) {
  std::string out;
  if (p.middleware.empty() || !p.meta.allocations_tracked) return out;
  uint64_t total_bytes = 0;
  for (const auto& m : p.middleware) total_bytes = sat_add(total_bytes, m.bytes);

  out += "\nAllocations by middleware (self: charged to the innermost middleware in each stack)\n";
  if (p.requests.counted)
    out += fmt::format("  requests served while recording: {}\n", grouped(p.requests.requests));
  else
    out += fmt::format("  requests: not counted ({}); per-request columns show -\n",
                       p.requests.note.empty() ? "unknown" : p.requests.note);
  out += fmt::format("  {:>3}  {}  {:>9}  {:>10}  {:>6}  {:>10}  {:>10}  {:>7}\n", "#", pad("middleware", kNameWidth),
                     "objs/req", "bytes/req", "share", "objects", "bytes", "leaked");
  const size_t shown = top_n ? std::min(top_n, p.middleware.size()) : p.middleware.size();
  for (size_t i = 0; i < shown; i++) {
    const MiddlewareRow& m = p.middleware[i];
    out += fmt::format("  {:>3}  {}  {:>9}  {:>10}  {:>6}  {:>10}  {:>10}  {:>7}\n", i + 1,
                       pad(elide(printable(m.name), kNameWidth), kNameWidth),
                       per_request(p, m.objects_per_request, false), per_request(p, m.bytes_per_request, true),
                       percent(m.bytes, total_bytes), grouped(m.objects), human_bytes(m.bytes),
                       grouped(m.leaked_tasks));
  }
  if (p.middleware.size() > shown) out += fmt::format("  ... {} more\n", p.middleware.size() - shown);

  for (size_t i = 0; i < shown && i < kDetailRows; i++) {
    const MiddlewareRow& m = p.middleware[i];
    if (m.objects == 0) continue;
    out += fmt::format("\n  #{} {}\n", i + 1, printable(m.name));
    out += fmt::format("      types: {}\n", elide(list(m.top_types, 4), 110));
    out += fmt::format("      sites: {}\n", elide(list(m.top_sites, 3), 110));
  }

  if (!p.chains.empty()) {
    out += "\n  Chains seen (outermost first)\n";
    for (size_t i = 0; i < p.chains.size() && i < 5; i++) {
      std::string names;
      for (const auto& n : p.chains[i].names) names += (names.empty() ? "" : " > ") + printable(n);
      out += fmt::format("    {:>10}  {}\n", human_bytes(p.chains[i].bytes), elide(names, 100));
    }
  }
  for (const auto& r : p.user_rules)
    out += fmt::format("  --middleware '{}': {} frames matched{}\n", printable(r.pattern), grouped(r.frames_matched),
                       r.functions.empty() ? " (matched nothing)" : " in " + printable(r.functions.front()) +
                                                                        (r.functions.size() > 1 ? ", ..." : ""));
  return out;
}

}  // namespace mws
