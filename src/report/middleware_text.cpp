#include "report/middleware_text.h"

#include <algorithm>

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

// "name (1.2 KiB x40)"; with in-use known: "name (1.2 KiB x40, 300 B in use)":
// the first n that fit in w columns, whole, each name at most 60 columns.
std::string list(const std::vector<NamedCount>& v, size_t n, bool inuse, size_t w) {
  std::vector<std::string> items;
  for (size_t i = 0; i < v.size() && i < n; i++) {
    std::string s = fmt::format("{} ({} x{}", shorten_name(printable(v[i].name), 60), human_bytes(v[i].bytes),
                                grouped(v[i].objects));
    s += inuse ? fmt::format(", {} in use)", human_bytes(uint64_t(std::max<int64_t>(v[i].inuse_bytes, 0)))) : ")";
    items.push_back(std::move(s));
  }
  return items.empty() ? "-" : fit_list(items, ", ", w);
}

// What each middleware holds in the heap, its change while recording and
// how fast that grows, most in use first.
void render_inuse(std::string& out, const Profile& p, size_t shown) {
  if (!p.inuse_known()) {
    out += "\nHeap in use by middleware: unknown (" + printable(p.meta.heap_problem) + ")\n";
    return;
  }
  std::vector<const MiddlewareRow*> rows;
  for (const auto& m : p.middleware) rows.push_back(&m);
  std::stable_sort(rows.begin(), rows.end(), [](const MiddlewareRow* a, const MiddlewareRow* b) {
    return a->inuse_bytes > b->inuse_bytes;
  });
  out += fmt::format("\nHeap in use by middleware: as of the last GC (self{}); change since attach over {} GC{}\n",
                     p.meta.heap_profile_rate > 1 ? ", estimates" : "", grouped(p.meta.gc_cycles),
                     p.meta.gc_cycles == 1 ? "" : "s");
  out += fmt::format("  {:>3}  {}  {:>14}  {:>12}  {:>12}  {:>16}\n", "#", pad("middleware", kNameWidth),
                     "in-use objects", "in-use bytes", "change", "growth");
  for (size_t i = 0; i < shown && i < rows.size(); i++) {
    const MiddlewareRow& m = *rows[i];
    out += fmt::format("  {:>3}  {}  {:>14}  {:>12}  {:>12}  {:>16}\n", i + 1,
                       pad(shorten_name(printable(m.name), kNameWidth), kNameWidth),
                       grouped(uint64_t(std::max<int64_t>(m.inuse_objects, 0))),
                       human_bytes(uint64_t(std::max<int64_t>(m.inuse_bytes, 0))),
                       change_bytes(m.inuse_change_bytes),
                       p.meta.gc_cycles ? growth_per_min(m.inuse_bytes_per_min) : std::string("-"));
  }
}

// Sampled mode: where the tiny allocations the sampler cannot see most
// likely were, by the tiny blocks each middleware had sampled.
void render_tiny(std::string& out, const Profile& p, size_t shown) {
  if (p.meta.tiny_allocs == 0) return;
  std::vector<const MiddlewareRow*> rows;
  for (size_t i = 0; i < shown; i++)
    if (p.middleware[i].tiny_allocs_missed > 0) rows.push_back(&p.middleware[i]);
  if (rows.empty()) return;
  std::stable_sort(rows.begin(), rows.end(), [](const MiddlewareRow* a, const MiddlewareRow* b) {
    return a->tiny_allocs_missed > b->tiny_allocs_missed;
  });
  out += fmt::format("\nTiny allocations the sampler missed: {} (runtime's count), shared by the middleware's "
                     "sampled 16-byte blocks\n",
                     grouped(p.meta.tiny_allocs));
  out += fmt::format("  {:>3}  {}  {:>14}  {:>9}\n", "#", pad("middleware", kNameWidth), "missed objects", "objs/req");
  for (size_t i = 0; i < rows.size(); i++) {
    const MiddlewareRow& m = *rows[i];
    const double per_req = p.requests.counted && p.requests.requests
                               ? double(m.tiny_allocs_missed) / double(p.requests.requests)
                               : 0;
    out += fmt::format("  {:>3}  {}  {:>14}  {:>9}\n", i + 1, pad(shorten_name(printable(m.name), kNameWidth), kNameWidth),
                       grouped(m.tiny_allocs_missed), per_request(p, per_req, false));
  }
}

// Goroutine creation tracked: each middleware's own work beside the work of
// the goroutines it started (transitively), and how much of (server)'s self
// was such work.
void render_via_goroutines(std::string& out, const Profile& p, size_t top_n) {
  std::vector<const MiddlewareRow*> rows;
  for (const auto& m : p.middleware)
    if (m.via_objects > 0 || m.via_leaked_tasks > 0) rows.push_back(&m);
  if (rows.empty() && p.meta.spawn_ctx_lost == 0 && p.meta.spawn_unresolved_objects == 0) return;
  std::stable_sort(rows.begin(), rows.end(), [](const MiddlewareRow* a, const MiddlewareRow* b) {
    return a->via_bytes > b->via_bytes;
  });
  const bool sampled = p.sampled();
  out += "\nWork done in goroutines a middleware started (via: those goroutines and theirs, whatever their stacks hold)\n";
  out += fmt::format("  {:>3}  {}  {:>9}  {:>9}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7}\n", "#", pad("middleware", kNameWidth),
                     "self/req", "via/req", "self objs", "via objs", "self bytes", "via bytes", "via leaked");
  const size_t shown = top_n ? std::min(top_n, rows.size()) : rows.size();
  for (size_t i = 0; i < shown; i++) {
    const MiddlewareRow& m = *rows[i];
    out += fmt::format("  {:>3}  {}  {:>9}  {:>9}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7}\n", i + 1,
                       pad(shorten_name(printable(m.name), kNameWidth), kNameWidth),
                       per_request(p, m.objects_per_request, false), per_request(p, m.via_objects_per_request, false),
                       grouped(m.objects), grouped(m.via_objects), human_bytes(m.bytes), human_bytes(m.via_bytes),
                       grouped(m.via_leaked_tasks));
  }
  if (rows.size() > shown) out += fmt::format("  ... {} more\n", rows.size() - shown);
  for (const auto& m : p.middleware)
    if (m.name == "(server)" && m.self_via_middleware_objects > 0)
      out += fmt::format("  of (server)'s {} objects ({}), {} ({}) were made in goroutines a middleware started\n",
                         grouped(m.objects), human_bytes(m.bytes), grouped(m.self_via_middleware_objects),
                         human_bytes(m.self_via_middleware_bytes));
  if (sampled) out += "  objects and bytes are estimates (raw samples in the JSON: via_samples)\n";
  if (p.meta.spawn_ctx_lost > 0 || p.meta.spawn_unresolved_objects > 0)
    out += fmt::format("  not followed: {} goroutines whose spawn context did not fit the BPF map, {} objects whose "
                       "goroutine's creation was not delivered; charged by their own stacks only\n",
                       grouped(p.meta.spawn_ctx_lost), grouped(p.meta.spawn_unresolved_objects));
}

}  // namespace

std::string render_middleware_text(const Profile& p, size_t top_n) {
  std::string out;
  if (p.middleware.empty() || !p.meta.allocations_tracked) return out;
  uint64_t total_bytes = 0;
  for (const auto& m : p.middleware) total_bytes = sat_add(total_bytes, m.bytes);

  out += "\nAllocations by middleware (self: charged to the innermost middleware or framework in each stack)\n";
  if (p.requests.counted)
    out += fmt::format("  requests served while recording: {}\n", grouped(p.requests.requests));
  else
    out += fmt::format("  requests: not counted ({}); per-request columns show -\n",
                       p.requests.note.empty() ? "unknown" : p.requests.note);
  // Sampled mode: objects and bytes are estimates; the raw samples follow them.
  const bool sampled = p.sampled();
  if (sampled) out += "  objects, bytes and per-request figures are estimates from the raw samples beside them\n";
  auto samples = [&](const std::string& v) { return sampled ? fmt::format("  {:>9}", v) : std::string(); };
  out += fmt::format("  {:>3}  {}  {:>9}  {:>10}  {:>6}  {:>10}  {:>10}{}  {:>7}\n", "#", pad("middleware", kNameWidth),
                     "objs/req", "bytes/req", "share", "objects", "bytes", samples("samples"), "leaked");
  const size_t shown = top_n ? std::min(top_n, p.middleware.size()) : p.middleware.size();
  for (size_t i = 0; i < shown; i++) {
    const MiddlewareRow& m = p.middleware[i];
    out += fmt::format("  {:>3}  {}  {:>9}  {:>10}  {:>6}  {:>10}  {:>10}{}  {:>7}\n", i + 1,
                       pad(shorten_name(printable(m.name), kNameWidth), kNameWidth),
                       per_request(p, m.objects_per_request, false), per_request(p, m.bytes_per_request, true),
                       percent(m.bytes, total_bytes), grouped(m.objects), human_bytes(m.bytes),
                       samples(grouped(m.samples)), grouped(m.leaked_tasks));
  }
  if (p.middleware.size() > shown) out += fmt::format("  ... {} more\n", p.middleware.size() - shown);

  const bool inuse = p.inuse_known();
  for (size_t i = 0; i < shown && i < kDetailRows; i++) {
    const MiddlewareRow& m = p.middleware[i];
    if (m.objects == 0) continue;
    out += fmt::format("\n  #{} {}\n", i + 1, printable(m.name));
    // mProf_Malloc is not told the type: sampled profiles have none to show.
    if (!sampled) out += fmt::format("      types: {}\n", list(m.top_types, 4, inuse, 110));
    out += fmt::format("      sites: {}\n", list(m.top_sites, 3, inuse, 110));
  }

  if (!p.chains.empty()) {
    out += "\n  Chains seen (outermost first)\n";
    for (size_t i = 0; i < p.chains.size() && i < 5; i++) {
      std::string names;
      for (const auto& n : p.chains[i].names)
        names += (names.empty() ? "" : " > ") + shorten_name(printable(n), kNameWidth);
      // Too long: the outer end goes, the innermost middleware stays.
      out += fmt::format("    {:>10}  {}\n", human_bytes(p.chains[i].bytes), keep_tail(names, 100));
    }
  }
  for (const auto& r : p.user_rules)
    out += fmt::format("  --middleware '{}': {} frames matched{}\n", printable(r.pattern), grouped(r.frames_matched),
                       r.functions.empty() ? " (matched nothing)" : " in " + printable(r.functions.front()) +
                                                                        (r.functions.size() > 1 ? ", ..." : ""));
  render_via_goroutines(out, p, top_n);
  if (sampled) render_tiny(out, p, shown);
  render_inuse(out, p, shown);
  return out;
}

}  // namespace mws
