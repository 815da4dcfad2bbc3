#include "serve/metrics.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "report/routes.h"
#include "util/terminal_text.h"

namespace mws::serve {
namespace {

// One metric family: its HELP and TYPE once, then its samples.
class Family {
 public:
  Family(std::string& out, const char* name, const char* type, const char* help) : out_(out), name_(name) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // `labels`: already rendered pairs, `k="v"` joined by commas.
  template <typename V>
  void sample(const std::string& labels, V value) {
    out_ += labels.empty() ? fmt::format("{} {}\n", name_, value) : fmt::format("{}{{{}}} {}\n", name_, labels, value);
  }

 private:
  std::string& out_;
  const char* name_;
};

std::string label(const char* key, const std::string& value) {
  return fmt::format("{}=\"{}\"", key, escape_label_value(value));
}

std::string target_labels(const TargetLabels& t) {
  std::string s = fmt::format("pid=\"{}\",{}", t.pid, label("exe", t.exe));
  if (!t.container.empty()) s += "," + label("container", t.container);
  return s;
}

// The `top` heaviest of `values` by name, the rest summed into "(other)".
template <typename V>
std::vector<std::pair<std::string, V>> bounded(std::map<std::string, V> values, size_t top) {
  std::vector<std::pair<std::string, V>> rows(values.begin(), values.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (rows.size() <= top) return rows;
  V rest{};
  for (size_t i = top; i < rows.size(); i++) rest += rows[i].second;
  rows.resize(top);
  rows.emplace_back(kOtherMiddleware, rest);
  return rows;
}

const char* kWhy[] = {"unreachable", "go_says", "per_request"};

// Per route (a target recorded with routes): the same bounded, monotonic
// series as per middleware (AllocCounters), and the leaked goroutines under
// those names, the rest as "(other)".
void render_route_metrics(std::string& out, const std::vector<TargetMetrics>& targets) {
  auto with_routes = [](const TargetMetrics& t) { return t.allocs && t.profile && t.profile->route_summary.recorded; };
  if (std::none_of(targets.begin(), targets.end(), with_routes)) return;  // no families without routes
  {
    Family f(out, "mwscope_route_requests_total", "counter",
             "HTTP requests the target served since attach, by the route its router matched (pattern and method)");
    for (const auto& t : targets)
      if (with_routes(t))
        for (const RouteSeries& s : t.allocs->route_series())
          f.sample(target_labels(t.labels) + "," + label("route", s.route), s.requests);
  }
  for (const bool bytes : {false, true}) {
    Family f(out, bytes ? "mwscope_route_alloc_bytes_total" : "mwscope_route_alloc_objects_total", "counter",
             bytes ? "Bytes allocated since attach for the requests of a route (sampled mode: estimates)"
                   : "Objects allocated since attach for the requests of a route (sampled mode: estimates)");
    for (const auto& t : targets)
      if (with_routes(t) && t.profile->meta.allocations_tracked)
        for (const RouteSeries& s : t.allocs->route_series())
          f.sample(target_labels(t.labels) + "," + label("route", s.route), bytes ? s.bytes : s.objects);
  }
  {
    Family f(out, "mwscope_route_goroutines_leaked", "gauge",
             "Leaked goroutines created while recording, by the route of the request whose goroutine started them");
    for (const auto& t : targets) {
      if (!with_routes(t) || !t.profile->tasks.tracked) continue;
      std::map<std::string, uint64_t> leaked;
      for (const RouteSeries& s : t.allocs->route_series()) leaked[s.route] = 0;
      for (const RouteTotals& r : route_totals(*t.profile))
        if (r.leaked_tasks > 0) leaked[t.allocs->named_route(r.name) ? r.name : kOtherMiddleware] += r.leaked_tasks;
      for (const auto& [name, n] : leaked) f.sample(target_labels(t.labels) + "," + label("route", name), n);
    }
  }
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : valid_utf8(value)) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_metrics(const std::vector<TargetMetrics>& targets, const AgentMetrics& agent, size_t top) {
  std::string out;
  {
    Family f(out, "mwscope_target_up", "gauge", "1 while mwscope is attached to the target and reads it, else 0");
    for (const auto& t : targets) f.sample(target_labels(t.labels), t.up ? 1 : 0);
  }
  {
    Family f(out, "mwscope_target_info", "gauge",
             "The target's Go version and mwscope's recording mode (exact: every allocation; sampled: the Go "
             "runtime's heap sampler, scaled estimates)");
    for (const auto& t : targets)
      if (t.profile)
        f.sample(target_labels(t.labels) + "," + label("go_version", t.profile->meta.go_version) + "," +
                     label("mode", t.profile->meta.mode),
                 1);
  }
  // Objects and bytes: one family each, the same series.
  for (const bool bytes : {false, true}) {
    Family f(out, bytes ? "mwscope_alloc_bytes_total" : "mwscope_alloc_objects_total", "counter",
             bytes ? "Bytes allocated since attach, by the middleware whose code allocated them (sampled mode: "
                     "estimates)"
                   : "Objects allocated since attach, by the middleware whose code allocated them (exact mode: "
                     "every allocation; sampled mode: estimates)");
    for (const auto& t : targets)
      if (t.allocs && t.profile && t.profile->meta.allocations_tracked)
        for (const AllocSeries& s : t.allocs->series())
          f.sample(target_labels(t.labels) + "," + label("middleware", s.middleware), bytes ? s.bytes : s.objects);
  }
  {
    Family f(out, "mwscope_heap_inuse_bytes", "gauge",
             "Heap in use as of the target's last GC, by the middleware whose code allocated it (the Go runtime's "
             "heap profile: estimates unless MemProfileRate is 1)");
    for (const auto& t : targets) {
      if (!t.profile || !t.profile->inuse_known()) continue;
      std::map<std::string, int64_t> inuse;
      for (const MiddlewareRow& row : t.profile->middleware) inuse[row.name] += std::max<int64_t>(row.inuse_bytes, 0);
      for (const auto& [name, v] : bounded(std::move(inuse), top))
        f.sample(target_labels(t.labels) + "," + label("middleware", name), v);
    }
  }
  {
    Family f(out, "mwscope_goroutines", "gauge",
             "The target's goroutines by state (running, runnable, or what they wait on), its runtime's own apart");
    for (const auto& t : targets) {
      if (!t.profile || !t.profile->goroutines.read) continue;
      std::map<std::string, uint64_t> by_state;
      for (const GoroutineGroup& g : t.profile->goroutines.groups)
        for (const auto& [state, n] : g.states) by_state[state] += n;
      for (const auto& [state, n] : by_state) f.sample(target_labels(t.labels) + "," + label("state", state), n);
    }
  }
  {
    Family f(out, "mwscope_goroutines_leaked", "gauge",
             "Leaked goroutines by the middleware that started them and the evidence: unreachable (nothing can end "
             "their wait), go_says (Go's own detector), per_request (a request started them and they waited longer "
             "than --leak-age)");
    for (const auto& t : targets) {
      if (!t.profile || !t.profile->goroutines.read) continue;
      std::map<std::string, uint64_t> total;
      std::map<std::string, std::array<uint64_t, 3>> by_why;
      for (const GoroutineGroup& g : t.profile->goroutines.groups) {
        if (g.leaked == 0) continue;
        total[g.middleware] += g.leaked;
        auto& w = by_why[g.middleware];
        w[0] += g.leaked_unreachable;
        w[1] += g.leaked_go_says;
        w[2] += g.leaked_per_request;
      }
      std::map<std::string, std::array<uint64_t, 3>> rows;
      const auto kept = bounded(total, top);
      for (const auto& [name, n] : kept) rows[name] = {0, 0, 0};
      for (const auto& [name, w] : by_why) {
        auto& into = rows.count(name) ? rows[name] : rows[kOtherMiddleware];
        for (int i = 0; i < 3; i++) into[i] += w[i];
      }
      for (const auto& [name, w] : rows)
        for (int i = 0; i < 3; i++)
          if (w[i] > 0)
            f.sample(target_labels(t.labels) + "," + label("middleware", name) + "," + label("why", kWhy[i]), w[i]);
    }
  }
  {
    Family f(out, "mwscope_goroutines_in_flight", "gauge",
             "Requests blocked in their handler longer than --leak-age (stuck in flight, not counted as leaked)");
    for (const auto& t : targets)
      if (t.profile && t.profile->goroutines.read) f.sample(target_labels(t.labels), t.profile->goroutines.in_flight);
  }
  {
    Family f(out, "mwscope_requests_total", "counter", "HTTP requests the target served since attach (where counted)");
    for (const auto& t : targets)
      if (t.profile && t.profile->requests.counted) f.sample(target_labels(t.labels), t.profile->requests.requests);
  }
  render_route_metrics(out, targets);
  {
    Family f(out, "mwscope_events_dropped_total", "counter",
             "Events lost since attach (ring buffer full, a table over its limit, unreadable): the figures above "
             "are low by what these carried");
    for (const auto& t : targets)
      if (t.profile) f.sample(target_labels(t.labels), t.profile->meta.dropped_events);
  }
  {
    Family f(out, "mwscope_snapshot_seconds", "gauge",
             "What reading the target's state and building its last snapshot took (the target runs on meanwhile)");
    for (const auto& t : targets)
      if (t.profile) f.sample(target_labels(t.labels), t.snapshot_seconds);
  }
  {
    Family f(out, "mwscope_target_last_words_total", "counter",
             "Targets that died (reason oom: the kernel's OOM killer) whose last heap and goroutines mwscope wrote");
    for (const auto& [key, n] : agent.last_words)
      f.sample(label("exe", key.first) + "," + label("reason", key.second), n);
  }
  {
    Family f(out, "mwscope_targets", "gauge", "Targets mwscope holds");
    f.sample("", targets.size());
  }
  {
    Family f(out, "process_cpu_seconds_total", "counter", "mwscope's own CPU time, user and system");
    f.sample("", fmt::format("{:.3f}", agent.cpu_seconds));
  }
  {
    Family f(out, "process_resident_memory_bytes", "gauge", "mwscope's own resident memory");
    f.sample("", agent.resident_bytes);
  }
  return out;
}

AgentMetrics read_own_usage() {
  AgentMetrics m;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command, which ends at the last ')': state is field 3,
    // utime 14, stime 15, rss 24 (pages).
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::vector<std::string> f;
    for (std::string w; rest >> w;) f.push_back(w);
    if (f.size() > 21) {
      const double tick = double(sysconf(_SC_CLK_TCK));
      m.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
      m.resident_bytes = std::stoull(f[21]) * uint64_t(sysconf(_SC_PAGESIZE));
    }
  }
  return m;
}

}  // namespace mws::serve
