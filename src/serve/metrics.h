// /metrics: Prometheus' text exposition format (version 0.0.4) of every
// target serve holds, from each one's latest snapshot, and of mwscope
// itself. Metric names and labels: docs/serve.md; the alert rules in
// deploy/alerts.yml are written against them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/profile.h"
#include "serve/alloc_counters.h"

namespace mws::serve {

// What names a target's series.
struct TargetLabels {
  int pid = 0;
  std::string exe;        // the executable's base name
  std::string container;  // container or cgroup id; empty: no label
};

struct TargetMetrics {
  TargetLabels labels;
  bool up = false;                  // attached, and its last snapshot worked
  const Profile* profile = nullptr; // attributed; null before the first snapshot
  const AllocCounters* allocs = nullptr;
  double snapshot_seconds = 0;      // what the last snapshot took
};

struct AgentMetrics {
  double cpu_seconds = 0;      // mwscope's own, user + system
  uint64_t resident_bytes = 0;
  // Targets that died and whose last heap was written, by (exe, reason).
  std::map<std::pair<std::string, std::string>, uint64_t> last_words;
};

// At most `top` middleware per target in each per-middleware metric, the
// rest summed as "(other)".
std::string render_metrics(const std::vector<TargetMetrics>& targets, const AgentMetrics& agent, size_t top);

// A label value as the exposition format writes it: \, " and newline
// escaped, invalid UTF-8 replaced (a target names its own executable).
std::string escape_label_value(const std::string& value);

// mwscope's own CPU time and resident memory, from /proc/self.
AgentMetrics read_own_usage();

}  // namespace mws::serve
