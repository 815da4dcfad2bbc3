#include "report/text.h"
#include "report/text_format.h"
#include "report/c_heap_text.h"
#include "report/leaks.h"
#include "report/middleware_text.h"
#include "report/routes_text.h"
#include "report/threads.h"

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

using namespace textfmt;

void header_line(std::string& out, std::string_view label, std::string_view value) {
  out += fmt::format("  {}{}\n", pad(label, kLabelWidth), value);
}

std::string sample_rate_text(uint64_t rate) {
  if (rate == 0) return "unknown";
  if (rate < 1024) return fmt::format("{} B", rate);
  return fmt::format("{} B = {}", rate, human_bytes(rate));
}

// Which mode produced the profile, and what its numbers therefore are.
void render_mode(std::string& out, const ProfileMeta& m) {
  if (m.mode == "sampled" && !m.allocations_tracked) {
    header_line(out, "mode", "sampled — no allocation recorded (see Allocations below)");
  } else if (m.mode == "sampled") {
    header_line(out, "mode", fmt::format("sampled — the Go runtime's heap sampler (runtime.MemProfileRate = {})",
                                         sample_rate_text(m.sample_rate)));
    header_line(out, "", "objects and bytes are estimates scaled like pprof, raw samples shown beside them");
  } else if (m.mode == "exact") {
    header_line(out, "mode", "exact — every runtime.mallocgc call counted");
  } else {
    header_line(out, "mode", m.mode.empty() ? "unknown" : clip_end(printable(m.mode), kTextWidth - 2 - kLabelWidth));
  }
}

// Sampled mode: the raw samples, what is in use, and frees not attributed.
void render_sampled_totals(std::string& out, const Profile& p) {
  const ProfileMeta& m = p.meta;
  uint64_t samples = 0, sample_bytes = 0, freed = 0, freed_bytes = 0;
  for (const ProfileStack& s : p.stacks) {
    samples = sat_add(samples, s.samples);
    sample_bytes = sat_add(sample_bytes, s.sample_bytes);
    freed = sat_add(freed, s.freed_samples);
    freed_bytes = sat_add(freed_bytes, s.freed_sample_bytes);
  }
  // Frees come from the runtime's heap profile read at both ends: unknown
  // without it.
  header_line(out, "raw samples",
              m.heap_read ? fmt::format("{} allocations ({}) sampled, {} sampled objects ({}) freed", grouped(samples),
                                        human_bytes(sample_bytes), grouped(freed), human_bytes(freed_bytes))
                          : fmt::format("{} allocations ({}) sampled, frees unknown (heap profile not read)",
                                        grouped(samples), human_bytes(sample_bytes)));
  header_line(out, "tiny allocs",
              m.tiny_allocs_counted
                  ? fmt::format("{} the sampler missed: under 16 B, no pointers, packed into a started block "
                                "(runtime's count)",
                                grouped(m.tiny_allocs))
                  : std::string("not counted; the sampler misses some under 16 B (--mode exact counts them)"));
  if (m.unattributed_free_samples != 0 || m.unattributed_free_bytes != 0) {
    header_line(out, "not attributed",
                fmt::format("{} sampled free{} ({}) of objects allocated before attach at stacks not seen since",
                            grouped(m.unattributed_free_samples), m.unattributed_free_samples == 1 ? "" : "s",
                            human_bytes(m.unattributed_free_bytes)));
  }
}

// The heap in use from the runtime's own profile, in every mode.
void render_heap_inuse(std::string& out, const Profile& p) {
  const ProfileMeta& m = p.meta;
  if (!m.heap_read) {
    header_line(out, "heap in use", "unknown: " + printable(m.heap_problem));
    return;
  }
  int64_t objects = 0, bytes = 0, change = 0;
  for (const ProfileStack& s : p.stacks) {
    objects = sat_add(objects, s.inuse_objects);
    bytes = sat_add(bytes, s.inuse_bytes);
    change = sat_add(change, s.inuse_change_bytes);
  }
  if (m.heap_profile_rate == 0) {
    header_line(out, "heap in use", "unknown: the runtime samples no allocation (its MemProfileRate is 0)");
    return;
  }
  const char* est = m.heap_profile_rate > 1 ? "est. " : "";
  header_line(out, "heap in use",
              fmt::format("{}{} objects, {} as of the last GC (the runtime's profile, MemProfileRate {})", est,
                          grouped(uint64_t(std::max<int64_t>(objects, 0))), human_bytes(uint64_t(std::max<int64_t>(bytes, 0))),
                          m.heap_profile_rate));
  header_line(out, "",
              m.gc_cycles == 0 ? std::string("change while recording: none can show, no GC completed")
                               : fmt::format("change while recording: {} over {} GC{}", change_bytes(change),
                                             grouped(m.gc_cycles), m.gc_cycles == 1 ? "" : "s"));
  if (m.heap_unreadable_buckets)
    header_line(out, "", fmt::format("{} profile bucket{} read torn and left out", grouped(m.heap_unreadable_buckets),
                                     m.heap_unreadable_buckets == 1 ? "" : "s"));
}

void render_allocation_totals(std::string& out, const Profile& p) {
  const uint64_t objects = total_weight(p, Weight::Objects);
  const uint64_t bytes = total_weight(p, Weight::Bytes);
  header_line(out, "allocations",
              fmt::format("{}{} objects, {} ({} bytes) in {} distinct stacks", p.sampled() ? "est. " : "",
                          grouped(objects), human_bytes(bytes), grouped(bytes), grouped(p.stacks.size())));
  if (p.sampled()) render_sampled_totals(out, p);
}

void render_allocation_rate(std::string& out, const Profile& p) {
  const double seconds = p.meta.duration_s;
  if (!std::isfinite(seconds) || seconds <= 0) {
    header_line(out, "rate", "unknown (no duration recorded)");
    return;
  }
  header_line(out, "rate",
              fmt::format("{}{} objects/s, {}/s", p.sampled() ? "est. " : "",
                          rate(static_cast<double>(total_weight(p, Weight::Objects)) / seconds),
                          human_bytes(static_cast<double>(total_weight(p, Weight::Bytes)) / seconds)));
}

void render_header(std::string& out, const Profile& p) {
  const ProfileMeta& m = p.meta;
  const size_t value_width = kTextWidth - 2 - kLabelWidth;
  out += m.tool_version.empty() ? "mwscope heap allocation report\n"
                                : fmt::format("mwscope {} heap allocation report\n",
                                              clip_end(printable(m.tool_version), 40));
  const std::string pid = fmt::format("pid {}  ", m.pid);
  header_line(out, "target",
              pid + keep_tail(m.executable.empty() ? "(executable unknown)" : printable(m.executable),
                          value_width - pid.size()));
  const bool native = m.go_version.empty() && p.c_heap.recorded;  // a C process: its C heap only
  header_line(out, "Go version",
              native               ? "none: a native process (its C heap only)"
              : m.go_version.empty() ? "unknown (not a Go binary?)"
                                     : clip_end(printable(m.go_version), value_width));
  if (!native) render_mode(out, m);
  header_line(out, "started", utc_time(m.started_unix_ns));
  header_line(out, "duration",
              fmt::format("{}, {} probe{} attached", duration(m.duration_s),
                          grouped(m.probes_attached), m.probes_attached == 1 ? "" : "s"));
  if (m.allocations_tracked) render_allocation_totals(out, p);
  else if (!native) header_line(out, "allocations", "not recorded (see Allocations below)");
  if (!native) render_heap_inuse(out, p);
  if (m.allocations_tracked) render_allocation_rate(out, p);
  // Always shown, even when 0: "no silent loss" (DESIGN.md).
  if (m.dropped_events == 0) {
    header_line(out, "dropped events", "0");
  } else {
    const uint64_t seen = sat_add(m.events, m.dropped_events);
    header_line(out, "dropped events",
                fmt::format("{} of {} events ({}) LOST: the counts below are too low",
                            grouped(m.dropped_events), grouped(seen), percent(m.dropped_events, seen)));
    const uint64_t other = m.dropped_events - std::min(m.dropped_events, sat_add(m.dropped_ring_full, m.dropped_over_limit));
    std::vector<std::string> causes;
    if (m.dropped_ring_full)
      causes.push_back(fmt::format("{} ring buffer full (mwscope fell behind; a larger --ringbuf-mb helps)",
                                   grouped(m.dropped_ring_full)));
    if (m.dropped_over_limit)
      causes.push_back(fmt::format("{} over mwscope's limits (2^20 distinct stacks; record for less time)",
                                   grouped(m.dropped_over_limit)));
    if (other && !causes.empty()) causes.push_back(fmt::format("{} other", grouped(other)));
    for (const auto& cause : causes) header_line(out, "", cause);
  }
  header_line(out, "stack problems",
              fmt::format("{} stack error{} (no usable stack), {} truncated stack{} (cut at max depth)",
                          grouped(m.stack_errors), m.stack_errors == 1 ? "" : "s",
                          grouped(m.truncated_stacks), m.truncated_stacks == 1 ? "" : "s"));
  if (!m.cut.empty()) header_line(out, "REPORT CUT", printable(m.cut));
}

// Adds the counters of a stack or a site to a site, saturating.
template <typename Counts>
void add_counts(AllocationSite& to, const Counts& c) {
  to.objects = sat_add(to.objects, c.objects);
  to.bytes = sat_add(to.bytes, c.bytes);
  to.samples = sat_add(to.samples, c.samples);
  to.inuse_objects = sat_add(to.inuse_objects, c.inuse_objects);
  to.inuse_bytes = sat_add(to.inuse_bytes, c.inuse_bytes);
}

// "1,200 objects, 78.1 KiB"; sampled: "est. 1,200 objects, 78.1 KiB, 12 samples".
template <typename Counts>
std::string counts_text(bool sampled, const Counts& c) {
  if (!sampled) return fmt::format("{} objects, {}", grouped(c.objects), human_bytes(c.bytes));
  return fmt::format("est. {} objects, {}, {} sample{}", grouped(c.objects), human_bytes(c.bytes),
                     grouped(c.samples), c.samples == 1 ? "" : "s");
}

auto frame_key(const Frame& f) { return std::tie(f.function, f.file, f.line, f.inlined); }

// Deterministic order between stacks of equal weight, whatever the input order.
bool stack_tiebreak_less(const Profile& p, const ProfileStack& a, const ProfileStack& b) {
  return std::lexicographical_compare(
      a.frame_ids.begin(), a.frame_ids.end(), b.frame_ids.begin(), b.frame_ids.end(),
      [&](FrameId x, FrameId y) { return frame_key(p.frame(x)) < frame_key(p.frame(y)); });
}

void render_sites(std::string& out, const Profile& p, Weight weight, size_t top_n) {
  const std::vector<AllocationSite> sites = allocation_sites(p, weight);
  const uint64_t total = total_weight(p, weight);
  out += '\n';
  if (!p.meta.allocations_tracked) {
    const std::string why = p.meta.allocations_unavailable.empty() ? std::string("recorded with --no-allocs")
                                                                   : printable(p.meta.allocations_unavailable);
    out += "Allocations: not recorded: " + why + "\n";
    return;
  }
  if (sites.empty()) {
    out += fmt::format("No allocations recorded (total {} is 0).\n", name(weight));
    return;
  }
  const size_t shown = top_n == 0 ? sites.size() : std::min(top_n, sites.size());
  out += fmt::format("Top {} allocation site{} by {} (of {} site{}; a site is the innermost non-runtime frame)\n",
                     shown, shown == 1 ? "" : "s", name(weight), sites.size(),
                     sites.size() == 1 ? "" : "s");

  // Numeric columns (right-aligned), then function and location.
  const bool sampled = p.sampled();
  const bool inuse_known = p.inuse_known();
  std::vector<std::vector<std::string>> rows;
  // The in-use column, when the heap was read, is the heap held at the end.
  std::vector<std::string> head{"#"};
  for (const char* h : {sampled ? "est. objects" : "objects", sampled ? "est. bytes" : "bytes"}) head.push_back(h);
  if (sampled) head.push_back("samples");
  if (inuse_known) head.push_back("in use");
  for (const char* h : {"share", "function", "location"}) head.push_back(h);
  rows.push_back(std::move(head));
  for (size_t i = 0; i < shown; ++i) {
    const AllocationSite& s = sites[i];
    std::vector<std::string> r{std::to_string(i + 1), grouped(s.objects), human_bytes(s.bytes)};
    if (sampled) r.push_back(grouped(s.samples));
    if (inuse_known) r.push_back(human_bytes(uint64_t(std::max<int64_t>(s.inuse_bytes, 0))));
    r.push_back(percent(weight_of(s, weight), total));
    r.push_back(function_name(s.frame));
    r.push_back(s.frame.function == "[no stack]" && s.frame.file.empty() ? "" : location(s.frame));
    rows.push_back(std::move(r));
  }
  const size_t numeric = rows[0].size() - 2;
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], width(r[c]));
  // Fit 120 columns: the location keeps up to 40, the function gets the rest.
  size_t fixed = 2 + 2;
  for (size_t c = 0; c < numeric; ++c) fixed += w[c] + 2;
  size_t& wf = w[numeric];
  size_t& wl = w[numeric + 1];
  wl = std::min<size_t>(wl, 40);
  wf = std::min(wf, std::max<size_t>(20, kTextWidth - fixed - wl));
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < numeric; ++c) line += "  " + rpad(r[c], w[c]);
    line += "  " + pad(shorten_name(r[numeric], wf), wf) + "  " + keep_tail(r[numeric + 1], wl);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }

  if (shown < sites.size()) {
    AllocationSite rest;
    for (size_t i = shown; i < sites.size(); ++i) add_counts(rest, sites[i]);
    out += fmt::format("  ... {} more site{}: {} ({})\n", sites.size() - shown,
                       sites.size() - shown == 1 ? "" : "s", counts_text(sampled, rest),
                       percent(weight_of(rest, weight), total));
  }

  // The heaviest full stack of each of the top sites, leaf first.
  const size_t chains = std::min(kChainSites, shown);
  out += fmt::format("\nHeaviest stack of the top {} site{} (leaf first, '>' marks the site)\n", chains,
                     chains == 1 ? "" : "s");
  for (size_t i = 0; i < chains; ++i) {
    const AllocationSite& s = sites[i];
    const ProfileStack& st = *s.heaviest;
    out += fmt::format("\n  #{} {}  heaviest of {} stack{}: {} ({} of this site)\n", i + 1,
                       shorten_name(function_name(s.frame), 40), s.stacks, s.stacks == 1 ? "" : "s",
                       counts_text(sampled, st), percent(weight_of(st, weight), weight_of(s, weight)));
    if (st.frame_ids.empty()) {
      out += "      [no stack]  (the event had no usable user stack)\n";
      continue;
    }
    const size_t n = std::min(st.frame_ids.size(), std::max(kChainFrames, s.site_index + 1));
    size_t fw = 0;
    for (size_t k = 0; k < n; ++k) fw = std::max(fw, width(function_name(p.frame(st.frame_ids[k]))));
    const size_t indent = 6;
    fw = std::min(fw, kTextWidth - indent - 2 - 40 - 11);  // 11: " (inlined)"
    for (size_t k = 0; k < n; ++k) {
      const Frame& f = p.frame(st.frame_ids[k]);
      std::string line = fmt::format("    {} {}  {}{}", k == s.site_index ? '>' : ' ',
                                     pad(shorten_name(function_name(f), fw), fw), keep_tail(location(f), 40),
                                     f.inlined ? " (inlined)" : "");
      out += line + '\n';
    }
    if (n < st.frame_ids.size()) {
      const size_t more = st.frame_ids.size() - n;
      out += fmt::format("      ... {} more frame{} (root: {})\n", more, more == 1 ? "" : "s",
                         shorten_name(function_name(p.frame(st.frame_ids.back())), 60));
    }
  }
}

}  // namespace

std::vector<AllocationSite> allocation_sites(const Profile& profile, Weight weight) {
  // Keyed by (no-stack?, function, file, line): a function with several
  // allocating lines has several sites, as in `pprof -lines`.
  std::map<std::tuple<bool, std::string, std::string, uint32_t>, AllocationSite> by_key;
  for (const ProfileStack& st : profile.stacks) {
    const uint64_t w = weight_of(st, weight);
    if (w == 0) continue;
    Frame frame;
    size_t index = 0;
    if (st.frame_ids.empty()) {
      frame.function = "[no stack]";
    } else {
      index = site_frame_index(profile, st.frame_ids);
      frame = profile.frame(st.frame_ids[index]);
      frame.inlined = false;  // a property of one stack, not of the site
    }
    AllocationSite& s =
        by_key[std::make_tuple(st.frame_ids.empty(), frame.function, frame.file, frame.line)];
    if (s.stacks == 0) s.frame = frame;
    add_counts(s, st);
    ++s.stacks;
    if (s.heaviest == nullptr || w > weight_of(*s.heaviest, weight) ||
        (w == weight_of(*s.heaviest, weight) && stack_tiebreak_less(profile, st, *s.heaviest))) {
      s.heaviest = &st;
      s.site_index = index;
    }
  }
  std::vector<AllocationSite> sites;
  sites.reserve(by_key.size());
  for (auto& [key, s] : by_key) sites.push_back(std::move(s));
  // by_key is already ordered by name: a stable sort by weight breaks ties by name.
  std::stable_sort(sites.begin(), sites.end(), [&](const AllocationSite& a, const AllocationSite& b) {
    return weight_of(a, weight) > weight_of(b, weight);
  });
  return sites;
}

std::string render_text(const Profile& profile, Weight weight, size_t top_n) {
  std::string out;
  render_header(out, profile);
  // A process without a Go runtime (--c-heap or --threads on a C server)
  // has only its native side to show.
  if (!profile.meta.go_version.empty() || (!profile.c_heap.recorded && !profile.threads.recorded)) {
    // The C heap has its own section below; the Go table then ranks by bytes.
    render_sites(out, profile, is_c_heap(weight) ? Weight::Bytes : weight, top_n);
    out += render_middleware_text(profile, top_n);
    out += render_routes_text(profile, top_n);
    out += render_leaks_text(profile, top_n);
  }
  out += render_c_heap_text(profile, top_n);
  out += render_threads_text(profile, top_n);
  return out;
}

}  // namespace mws
