// One target under `mwscope serve`: a thread that attaches a
// record::Session, takes its events in, and every refresh period reads a
// snapshot (attributed, with the Prometheus counters updated) that
// /metrics renders without waiting. The pprof endpoints ask for a fresh one.
// Destroying the agent stops the thread and detaches everything.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "attribute/middleware_rules.h"
#include "model/profile.h"
#include "record/record_options.h"
#include "serve/alloc_counters.h"
#include "serve/metrics.h"
#include "util/result.h"

namespace mws::record {
class Session;
}

namespace mws::serve {

struct AgentOptions {
  record::RecordOptions rec;  // rec.pid: the target
  std::shared_ptr<const attribute::MiddlewareRules> rules;
  TargetLabels labels;
  double refresh_s = 15;
  size_t top = 20;
  // Lines for the log (attached, failed, exited); the target's strings in
  // them are not sanitized yet.
  std::function<void(const std::string&)> log;
};

enum class AgentState { kAttaching, kUp, kFailed, kEnded };

// What /metrics shows of a target, taken under the agent's lock.
struct AgentView {
  AgentState state = AgentState::kAttaching;
  std::string problem;  // kFailed: why
  std::shared_ptr<const Profile> profile;  // the latest snapshot; null before the first
  std::shared_ptr<const AllocCounters> allocs;
  double snapshot_seconds = 0;
  std::chrono::steady_clock::time_point taken;  // when `profile` was read
};

class TargetAgent {
 public:
  explicit TargetAgent(AgentOptions opt);  // starts the thread
  ~TargetAgent();                          // stops it, detaches
  TargetAgent(const TargetAgent&) = delete;
  TargetAgent& operator=(const TargetAgent&) = delete;

  AgentView view() const;
  // A snapshot now, attributed (for /debug/pprof/*); waits for the thread
  // to let go of the session (at most one poll, 200 ms). One read less than
  // a second ago serves instead: scrapes that arrive together (or a
  // scraper that retries) cost the target one reading, not one each.
  Result<std::shared_ptr<const Profile>> fresh();
  const TargetLabels& labels() const { return opt_.labels; }
  bool ended() const;  // the target exited, or attaching failed

 private:
  void run();
  Result<std::shared_ptr<const Profile>> take_snapshot();  // session_mu_ held

  AgentOptions opt_;
  std::atomic<bool> stop_{false};
  std::atomic<int> waiting_{0};  // fresh() calls waiting for the session: the thread steps aside
  mutable std::mutex mu_;       // view_
  AgentView view_;
  std::mutex session_mu_;       // session_: the thread's polls and fresh() snapshots
  std::unique_ptr<record::Session> session_;
  AllocCounters counters_;      // session_mu_
  std::shared_ptr<const Profile> last_fresh_;  // session_mu_: fresh()'s last reading
  std::chrono::steady_clock::time_point last_fresh_taken_;
  std::thread thread_;
};

const char* describe(AgentState s);

}  // namespace mws::serve
