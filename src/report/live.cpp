#include "report/live.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>

#include "report/text_format.h"
#include "report/weight.h"

namespace mws {
namespace {

using namespace textfmt;

}  // namespace

std::string LiveView::render(const Profile& p) {
  const ProfileMeta& m = p.meta;
  const double span = std::max(m.duration_s - elapsed_s_, 1e-9);
  std::string out = fmt::format("mwscope live: pid {} ({}), {} mode; {} since attach, the last {}\n", m.pid,
                                keep_tail(printable(m.executable), 40), printable(m.mode), duration(m.duration_s),
                                duration(span));
  const uint64_t requests = p.requests.counted ? p.requests.requests - std::min(p.requests.requests, requests_) : 0;
  out += fmt::format("  events {}/s, dropped {} ({} in all){}\n", grouped(uint64_t((m.events - std::min(m.events, events_)) / span)),
                     grouped(m.dropped_events - std::min(m.dropped_events, dropped_)), grouped(m.dropped_events),
                     p.requests.counted ? fmt::format(", requests {}/s", rate(requests / span)) : "");

  // Middleware: what each allocated in the interval, heaviest first.
  struct Row {
    std::string name;
    uint64_t objects, bytes;
    int64_t inuse, inuse_change;
  };
  std::vector<Row> rows;
  std::map<std::string, MiddlewareTotals> totals;
  for (const MiddlewareRow& r : p.middleware) {
    const MiddlewareTotals before = middleware_.count(r.name) ? middleware_.at(r.name) : MiddlewareTotals{};
    totals[r.name] = {r.objects, r.bytes, r.inuse_bytes};
    rows.push_back({r.name, r.objects - std::min(r.objects, before.objects), r.bytes - std::min(r.bytes, before.bytes),
                    r.inuse_bytes, r.inuse_bytes - before.inuse_bytes});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.bytes > b.bytes; });
  if (!m.allocations_tracked) {
    out += "  allocations: not recorded\n";
  } else {
    out += fmt::format("  {:<36} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "middleware", "objects/s", "bytes/s",
                       "objects/req", "in use", "change");
    for (size_t i = 0; i < rows.size() && i < 12; i++) {
      const Row& r = rows[i];
      out += fmt::format("  {:<36} {:>11} {:>11} {:>11} {:>11} {:>11}\n", shorten_name(printable(r.name), 36),
                         rate(r.objects / span), human_bytes(r.bytes / span),
                         requests ? fmt::format("{:.2f}", double(r.objects) / double(requests)) : "-",
                         p.inuse_known() ? human_bytes(uint64_t(std::max<int64_t>(r.inuse, 0))) : "?",
                         p.inuse_known() && inuse_known_ ? change_bytes(r.inuse_change) : "-");
    }
    if (rows.size() > 12) out += fmt::format("  ... {} more middleware\n", rows.size() - 12);
  }

  const int64_t inuse = int64_t(total_weight(p, Weight::InuseBytes));
  if (p.inuse_known())
    out += fmt::format("  heap in use {} as of the last GC{}\n", human_bytes(uint64_t(inuse)),
                       inuse_known_ ? ", " + change_bytes(inuse - inuse_bytes_) + " in the interval" : "");

  std::map<std::pair<std::string, std::string>, uint64_t> leak_groups;
  const GoroutineSnapshotSummary& g = p.goroutines;
  if (g.read) {
    out += fmt::format("  goroutines {}{}, leaked {}{}\n", grouped(g.total),
                       goroutines_known_ ? " (" + signed_count(int64_t(g.total) - int64_t(goroutines_)) + ")" : "",
                       grouped(g.leaked),
                       goroutines_known_ ? " (" + signed_count(int64_t(g.leaked) - int64_t(leaked_)) + ")" : "");
    out += fmt::format("    in flight {}, long-lived {}, suspect {} (not leaks)\n", grouped(g.in_flight),
                       grouped(g.long_lived), grouped(g.suspect));
    for (const GoroutineGroup& grp : g.groups)
      if (grp.leaked)
        leak_groups[{grp.start_function, parked_function(p, grp) + " (" + leak_why(grp) + ")"}] += grp.leaked;
    std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>> shown(leak_groups.begin(), leak_groups.end());
    auto growth = [&](const auto& e) {
      auto prev = leak_groups_.find(e.first);
      return int64_t(e.second) - int64_t(prev == leak_groups_.end() ? 0 : prev->second);
    };
    std::stable_sort(shown.begin(), shown.end(), [&](const auto& a, const auto& b) { return growth(a) > growth(b); });
    for (size_t i = 0; i < shown.size() && i < 5; i++)
      out += fmt::format("    {:>7} leaked {:>7}  {} / {}\n", grouped(shown[i].second), signed_count(growth(shown[i])),
                         shorten_name(printable(shown[i].first.first), 36), shorten_name(printable(shown[i].first.second), 36));
  } else {
    out += "  goroutines: unknown (" + printable(g.problem) + ")\n";
  }

  elapsed_s_ = m.duration_s;
  events_ = m.events;
  dropped_ = m.dropped_events;
  requests_ = p.requests.requests;
  inuse_bytes_ = inuse;
  inuse_known_ = p.inuse_known();
  goroutines_ = g.total;
  leaked_ = g.leaked;
  goroutines_known_ = g.read;
  middleware_ = std::move(totals);
  leak_groups_ = std::move(leak_groups);
  return out;
}

uint64_t interval_end_unix_ns(const Profile& p) {
  return p.meta.started_unix_ns + uint64_t(p.meta.duration_s * 1e9);
}

// To the millisecond: two intervals can end within one second (an interval
// whose work outlasted it is merged into the next), and a name taken gets
// "-2", which sorts before the name it follows: `ls` and anything sorting
// the files by name would put the later profile first.
std::string interval_file_stem(const Profile& p) {
  const uint64_t end_ns = interval_end_unix_ns(p);
  const time_t secs = time_t(end_ns / 1000000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  return fmt::format("mwscope-{}-{}.{:03}Z", p.meta.pid, stamp, end_ns / 1000000 % 1000);
}

std::string status_line(double elapsed_s, double events_per_s, uint64_t dropped) {
  return fmt::format("mwscope: recording {}: {} events/s, {} dropped; Ctrl-C to stop", duration(elapsed_s),
                     grouped(uint64_t(events_per_s)), grouped(dropped));
}

}  // namespace mws
