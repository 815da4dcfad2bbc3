#include "report/text.h"
#include "report/text_format.h"
#include "report/leaks.h"
#include "report/middleware_text.h"

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
  if (!p.meta.allocations_tracked) {
    out += "Allocations: not probed (recorded with --no-allocs)\n";
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
  out += render_middleware_text(profile, top_n);
  out += render_leaks_text(profile, top_n);
  return out;
}

}  // namespace mws
