#include "serve/target_agent.h"

#include <malloc.h>

#include <chrono>

#include "attribute/attribution.h"
#include "record/session.h"

namespace mws::serve {
namespace {

// How long one poll of a target's rings waits: what a fresh() may wait
// for the session, and how often an idle target's thread wakes.
constexpr int kPollMs = 200;

}  // namespace

const char* describe(AgentState s) {
  switch (s) {
    case AgentState::kAttaching: return "attaching";
    case AgentState::kUp: return "up";
    case AgentState::kFailed: return "failed";
    case AgentState::kEnded: return "ended";
  }
  return "?";
}

TargetAgent::TargetAgent(AgentOptions opt) : opt_(std::move(opt)), counters_(opt_.top) {
  opt_.rec.stop = &stop_;
  opt_.rec.stop_again = &stop_;
  thread_ = std::thread([this] { run(); });
}

TargetAgent::~TargetAgent() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(session_mu_);
  session_.reset();  // detaches
}

AgentView TargetAgent::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

bool TargetAgent::ended() const {
  std::lock_guard lock(mu_);
  return view_.state == AgentState::kFailed || view_.state == AgentState::kEnded;
}

Result<std::shared_ptr<const Profile>> TargetAgent::take_snapshot() {
  if (!session_) return Error{"not attached"};
  auto profile = session_->snapshot();
  if (!profile) return profile.error();
  attribute::attribute_profile(*profile, *opt_.rules);
  return std::shared_ptr<const Profile>(std::make_shared<Profile>(std::move(*profile)));
}

Result<std::shared_ptr<const Profile>> TargetAgent::fresh() {
  waiting_++;
  std::lock_guard lock(session_mu_);
  waiting_--;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard vlock(mu_);
    if (view_.profile && now - view_.taken < std::chrono::seconds(1)) return view_.profile;
  }
  if (last_fresh_ && now - last_fresh_taken_ < std::chrono::seconds(1)) return last_fresh_;
  auto profile = take_snapshot();
  if (!profile) return profile.error();
  last_fresh_ = *profile;
  last_fresh_taken_ = std::chrono::steady_clock::now();
  return last_fresh_;
}

void TargetAgent::run() {
  using Clock = std::chrono::steady_clock;
  auto session = record::Session::start(opt_.rec);
  if (!session) {
    std::lock_guard lock(mu_);
    view_.state = AgentState::kFailed;
    view_.problem = session.error().message;  // serve says it, once
    return;
  }
  {
    std::lock_guard lock(session_mu_);
    session_ = std::move(*session);
  }
  auto next_refresh = Clock::now();  // the first snapshot at once: /metrics has the target from the start
  while (!stop_.load()) {
    bool alive = true;
    {
      std::lock_guard lock(session_mu_);
      auto polled = session_->pump(kPollMs);
      alive = polled && *polled;
      if (!polled) {
        std::lock_guard vlock(mu_);
        view_.problem = polled.error().message;  // said when it ends, below
      }
      if (alive && Clock::now() >= next_refresh) {
        const auto started = Clock::now();
        auto profile = take_snapshot();
        const double took = std::chrono::duration<double>(Clock::now() - started).count();
        if (profile) counters_.update(**profile);
        std::lock_guard vlock(mu_);
        if (profile) {
          view_.state = AgentState::kUp;
          view_.profile = *profile;
          view_.allocs = std::make_shared<const AllocCounters>(counters_);
          view_.snapshot_seconds = took;
          view_.taken = Clock::now();
          view_.problem.clear();
        } else {
          view_.problem = profile.error().message;
          // Never up: -p waits on this state, --discover drops it.
          if (view_.state == AgentState::kAttaching) view_.state = AgentState::kFailed;
        }
        next_refresh = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(opt_.refresh_s));
        // A snapshot's working memory (symbols, the raw copy) back to the
        // system: serve's resident size is what it holds, not its peaks.
        malloc_trim(0);
      }
    }
    if (!alive || ended()) break;
    // Let fresh() in between polls (a mutex is not fair).
    while (waiting_.load() > 0 && !stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (stop_.load()) return;  // the destructor detaches
  {
    std::lock_guard lock(session_mu_);
    session_.reset();  // the target is gone: detach now
  }
  std::lock_guard lock(mu_);
  if (view_.state == AgentState::kFailed) return;
  view_.state = AgentState::kEnded;
  if (opt_.log)
    opt_.log("process " + std::to_string(opt_.labels.pid) +
             (view_.problem.empty() ? " exited; detached" : ": " + view_.problem + "; detached"));
}

}  // namespace mws::serve
