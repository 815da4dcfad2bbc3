#include "report/leaks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "report/folded.h"
#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

constexpr size_t kStackFrames = 10;

std::string states_text(const TaskGroup& g) {
  if (g.states.empty()) return "?";
  std::string s;
  for (size_t i = 0; i < g.states.size() && i < 2; i++) {
    if (i) s += ", ";
    s += fmt::format("{} x{}", printable(g.states[i].first), grouped(g.states[i].second));
  }
  if (g.states.size() > 2) s += ", ...";
  return s;
}

// The innermost frame is the go statement (an inlined one is shown with
// the function that holds it), in w columns.
std::string go_statement(const Profile& p, const TaskGroup& g, size_t w = SIZE_MAX) {
  if (g.creation_frame_ids.empty()) return "[no stack]";
  const Frame& f = p.frame(g.creation_frame_ids.front());
  return name_at(function_name(f), location(f), w);
}

void render_group_stack(std::string& out, size_t rank, const Profile& p, const TaskGroup& g) {
  out += fmt::format("\n  #{} {} started by the go statement in {} (leaf first)\n", rank,
                     printable(g.start_function), go_statement(p, g));
  size_t shown = std::min(g.creation_frame_ids.size(), kStackFrames);
  for (size_t i = 0; i < shown; i++) {
    const Frame& f = p.frame(g.creation_frame_ids[i]);
    out += fmt::format("      {}  {}{}\n", pad(shorten_name(function_name(f), 60), 60), location(f),
                       f.inlined ? " (inlined)" : "");
  }
  if (g.creation_frame_ids.size() > shown)
    out += fmt::format("      ... {} more frames\n", g.creation_frame_ids.size() - shown);
}

int64_t growth(uint64_t now, uint64_t before) { return int64_t(now) - int64_t(before); }


}  // namespace

namespace {

// Where a group waits, as a site is defined everywhere, in w columns.
std::string parked_at(const Profile& p, const GoroutineGroup& g, size_t w) {
  if (g.frame_ids.empty()) return "[running]";
  const Frame& f = p.frame(g.frame_ids[site_frame_index(p, g.frame_ids)]);
  return name_at(function_name(f), location(f), w);
}

// A group's verdict in a few words: "3 leaked: unreachable+per request",
// "2 in flight", "5 long-lived", "1 suspect"; "-" when none applies.
std::string verdict_text(const GoroutineGroup& g) {
  std::string out;
  auto add = [&](uint64_t n, const std::string& what) {
    if (!n) return;
    if (!out.empty()) out += ", ";
    out += grouped(n) + " " + what;
  };
  add(g.leaked, "leaked: " + leak_why(g));
  add(g.in_flight, "in flight");
  add(g.suspect, "suspect");
  add(g.long_lived, "long-lived");
  return out.empty() ? "-" : out;
}

void render_reachability(std::string& out, const ReachabilityScan& r) {
  if (!r.ran) {
    out += fmt::format("  unreachable: not decided ({})\n", printable(r.problem.empty() ? "scan not run" : r.problem));
    return;
  }
  out += fmt::format("  reachability scan: {} channel waits, {} unreachable on two looks; {} of the target read in {:.2f} s{}\n",
                     grouped(r.candidates), grouped(r.unreachable), human_bytes(r.bytes_scanned), r.seconds,
                     r.cut_short ? fmt::format("; CUT SHORT ({}): the waits it did not reach are suspect, not leaked",
                                               printable(r.problem))
                                 : "");
}

}  // namespace

// Every goroutine at the end, read from memory, grouped by where it is
// parked, with its verdict; the leaked ones first, requests stuck in flight
// apart.
void render_snapshot(std::string& out, const Profile& p, size_t top_n) {
  const GoroutineSnapshotSummary& s = p.goroutines;
  if (!s.read) {
    out += fmt::format("\nGoroutines at the end: unknown ({})\n", printable(s.problem));
    return;
  }
  const int64_t change = growth(s.total, s.total_at_attach);
  out += fmt::format("\nGoroutines at the end, read from the target's memory: {} ({} at attach, change {}{}; the "
                     "runtime's own {} not listed)\n",
                     grouped(s.total), grouped(s.total_at_attach), signed_count(change),
                     s.duration_s > 0 ? fmt::format(" = {:+.1f}/min", double(change) * 60 / s.duration_s) : "",
                     grouped(s.runtime));
  uint64_t unreachable = 0, per_request = 0, go_says = 0;
  for (const auto& g : s.groups) {
    unreachable += g.leaked_unreachable;
    per_request += g.leaked_per_request;
    go_says += g.leaked_go_says;
  }
  out += fmt::format("  leaked: {} (unreachable {}, started per request and blocked at least {:.0f} s {}, Go says {}); "
                     "requests stuck in flight: {}; long-lived by design: {}; suspect: {}\n",
                     grouped(s.leaked), grouped(unreachable), s.leak_age_s, grouped(per_request), grouped(go_says),
                     grouped(s.in_flight), grouped(s.long_lived), grouped(s.suspect));
  out += "  (leaked: nothing outside blocked goroutines references what it waits on, or Go's detector\n"
         "   marked it, or a request started it and it has waited on a channel, select, lock or condition\n"
         "   since; started at start-up and waiting: long-lived, never leaked; suspect: neither, not counted)\n";
  render_reachability(out, s.reachability);
  const size_t shown = std::min(top_n ? top_n : s.groups.size(), s.groups.size());
  if (shown == 0) return;
  out += fmt::format("  {:>3}  {:>7}  {:>7}  {:>8}  {}\n", "#", "count", "growth", "blocked",
                     "verdict / parked in / state / created by");
  for (size_t i = 0; i < shown; i++) {
    const GoroutineGroup& g = s.groups[i];
    std::string states;
    for (size_t k = 0; k < g.states.size() && k < 2; k++)
      states += fmt::format("{}{} x{}", k ? ", " : "", printable(g.states[k].first), grouped(g.states[k].second));
    const std::string created =
        g.creation_frame_ids.empty() ? "(main)" : function_name(p.frame(g.creation_frame_ids.front()));
    out += fmt::format("  {:>3}  {:>7}  {:>7}  {:>8}  {}\n", i + 1, grouped(g.count),
                       signed_count(growth(g.count, g.at_attach)), short_duration(g.blocked_s),
                       clip_end(verdict_text(g), 70));
    out += fmt::format("  {:>31}  {}\n", "", parked_at(p, g, 70));
    out += fmt::format("  {:>31}  {}; created by {} ({}); {}\n", "", clip_end(states, 30), shorten_name(printable(created), 30),
                       g.origin.empty() ? "?" : g.origin, printable(g.middleware));
  }
  if (s.groups.size() > shown) out += fmt::format("  ... {} more groups\n", s.groups.size() - shown);
  if (s.in_flight == 0) return;
  out += fmt::format("\nRequests stuck in flight: {} blocked at least {:.0f} s inside a handler (not leaks)\n",
                     grouped(s.in_flight), s.leak_age_s);
  out += fmt::format("  {:>7}  {:>8}  {}\n", "count", "blocked", "waits in / state / middleware");
  for (const GoroutineGroup& g : s.groups) {
    if (!g.in_flight) continue;
    out += fmt::format("  {:>7}  {:>8}  {}\n", grouped(g.in_flight), short_duration(g.blocked_s),
                       parked_at(p, g, 70));
    out += fmt::format("  {:>17}  {}; {}\n", "", g.states.empty() ? "?" : printable(g.states.front().first),
                       printable(g.middleware));
  }
}

std::string render_leaks_text(const Profile& p, size_t top_n) {
  const TaskSummary& t = p.tasks;
  std::string out;
  render_snapshot(out, p, top_n);
  if (!t.tracked) {
    out += fmt::format("\nGoroutines: not tracked ({})\n",
                       t.unavailable_reason.empty() ? "no goroutine data in this profile" : t.unavailable_reason);
    return out;
  }
  out += p.goroutines.read
             ? fmt::format("\nGoroutines created while recording (leaked: by the verdict above, from their creation "
                           "stacks: started per request and blocked at least {:.0f} s, or unreachable)\n",
                           t.leak_age_s)
             : fmt::format("\nLeaked goroutines: alive at the end and older than {:.0f} s (not read from memory: "
                           "age alone decides)\n",
                           t.leak_age_s);
  out += fmt::format("  created while recording {}, ended {}, alive at the end {}, leaked {}; dropped {}\n",
                     grouped(t.spawned), grouped(t.ended), grouped(t.live_at_end), grouped(t.leaked),
                     grouped(t.dropped));

  std::vector<const TaskGroup*> live;
  for (const auto& g : t.groups)
    if (g.live > 0) live.push_back(&g);
  if (live.empty()) {
    out += "  none: every goroutine created while recording has ended\n";
  } else {
    const size_t shown = top_n ? std::min(top_n, live.size()) : live.size();
    out += fmt::format("  {:>3}  {:>7}  {:>6}  {:>8}  {:>7}  {:>8}  {:>9}  {}\n", "#", "leaked", "live", "spawned",
                       "ended", "oldest", "growth/m", "start function / state / go statement");
    for (size_t i = 0; i < shown; i++) {
      const TaskGroup& g = *live[i];
      out += fmt::format("  {:>3}  {:>7}  {:>6}  {:>8}  {:>7}  {:>8}  {:>+9.1f}  {}\n", i + 1, grouped(g.leaked),
                         grouped(g.live), grouped(g.spawned), grouped(g.ended), duration(g.oldest_age_s),
                         g.growth_per_min, shorten_name(printable(g.start_function), 60));
      out += fmt::format("  {:>62}  {}\n", "", clip_end(states_text(g), 56));
      out += fmt::format("  {:>62}  go statement: {}\n", "", go_statement(p, g, 56));
    }
    if (live.size() > shown) out += fmt::format("  ... {} more groups with live goroutines\n", live.size() - shown);
    for (size_t i = 0; i < shown && i < 3; i++)
      if (live[i]->leaked > 0) render_group_stack(out, i + 1, p, *live[i]);
  }
  uint64_t short_lived = 0;
  for (const auto& g : t.groups)
    if (g.live == 0) short_lived += g.spawned;
  if (short_lived)
    out += fmt::format("  {} goroutines in {} other group(s) were created and ended while recording\n",
                       grouped(short_lived),
                       std::count_if(t.groups.begin(), t.groups.end(), [](const TaskGroup& g) { return g.live == 0; }));

  out += fmt::format("\nGoroutines alive before attach: {} (their creation was not seen; {} of them ended while recording)\n",
                     grouped(t.preexisting_at_attach), grouped(t.preexisting_ended));
  if (p.goroutines.read) return out;  // the reading above lists them, grouped, with their growth
  for (size_t i = 0; i < t.preexisting.size() && i < 10; i++) {
    const auto& g = t.preexisting[i];
    out += fmt::format("  {:>7}  {}  (created by {})\n", grouped(g.alive_at_attach), printable(g.start_function),
                       printable(g.created_by));
  }
  return out;
}

namespace {

// A stack root first, leaf last, then its weight.
std::string folded_line(const Profile& p, const std::vector<FrameId>& leaf_first, uint64_t weight) {
  std::string line;
  for (auto it = leaf_first.rbegin(); it != leaf_first.rend(); ++it) {
    if (!line.empty()) line += ';';
    line += folded_frame_name(p.frame(*it).function);
  }
  return fmt::format("{} {}", line.empty() ? "[no stack]" : line, weight);
}

// Of a group read at the end, the leaked goroutines the folded file holds:
// with --goroutines, those born while recording come from the spawn probes
// (by their whole creation stack), so only the ones alive at attach.
uint64_t leaked_from_reading(const Profile& p, const GoroutineGroup& g) {
  return p.tasks.tracked ? g.leaked_before_attach : g.leaked;
}

}  // namespace

std::string render_leaks_folded(const Profile& p) {
  std::vector<std::string> lines;
  for (const auto& g : p.goroutines.groups)  // by where they are parked
    if (uint64_t n = leaked_from_reading(p, g)) lines.push_back(folded_line(p, g.frame_ids, n));
  for (const auto& g : p.tasks.groups)  // by creation stack
    if (g.leaked > 0) lines.push_back(folded_line(p, g.creation_frame_ids, g.live));
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string describe_leaks_folded(const Profile& p) {
  uint64_t created = 0, parked = 0, parked_goroutines = 0;
  for (const auto& g : p.tasks.groups) created += g.leaked > 0;
  for (const auto& g : p.goroutines.groups) {
    const uint64_t n = leaked_from_reading(p, g);
    parked += n > 0;
    parked_goroutines += n;
  }
  auto groups = [](uint64_t n) { return fmt::format("{} group{}", n, n == 1 ? "" : "s"); };
  if (!p.goroutines.read)
    return fmt::format("{} created while recording; the {} goroutines alive before attach are not in it: {}",
                       groups(created), p.tasks.preexisting_at_attach, p.goroutines.problem);
  if (p.tasks.tracked)
    return fmt::format("{} created while recording, by creation stack; and the {} leaked before attach, by where "
                       "they are parked",
                       groups(created), parked_goroutines);
  return fmt::format("{} of {} goroutines read from memory at the end, by where they are parked, before attach "
                     "included",
                     groups(parked), parked_goroutines);
}

}  // namespace mws
