#include "serve/serve.h"

#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cctype>
#include <csignal>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <thread>

#include "attribute/middleware_rules.h"
#include "report/pprof.h"
#include "report/reporter.h"
#include "probes/oom_watch.h"
#include "report/live.h"
#include "serve/http_api.h"
#include "serve/target_agent.h"
#include "target/discovery.h"
#include "target/process.h"
#include "target/remote_memory.h"
#include "util/terminal_text.h"

namespace mws::serve {
namespace {

void log_line(const std::string& line) {
  std::fprintf(stderr, "mwscope: %s\n", terminal_safe(line).c_str());
  std::fflush(stderr);
}

// A file name's part from a name the target chose: letters, digits, '.',
// '-' and '_' kept, the rest '_', at most 64 bytes.
std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name.substr(0, 64))
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_';
  return out.empty() || out[0] == '.' ? "_" + out : out;
}

// The targets held now; the HTTP threads read it, the main loop changes it.
class Registry {
 public:
  std::vector<std::shared_ptr<TargetAgent>> list() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<TargetAgent>> out;
    for (const auto& [pid, a] : agents_) out.push_back(a);
    return out;
  }
  void add(pid_t pid, std::shared_ptr<TargetAgent> a) {
    std::lock_guard lock(mu_);
    agents_[pid] = std::move(a);
  }
  std::shared_ptr<TargetAgent> take(pid_t pid) {
    std::lock_guard lock(mu_);
    auto it = agents_.find(pid);
    if (it == agents_.end()) return nullptr;
    auto a = std::move(it->second);
    agents_.erase(it);
    return a;
  }
  bool holds(pid_t pid) const {
    std::lock_guard lock(mu_);
    return agents_.count(pid) > 0;
  }
  std::shared_ptr<TargetAgent> find(pid_t pid) const {
    std::lock_guard lock(mu_);
    auto it = agents_.find(pid);
    return it == agents_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<pid_t, std::shared_ptr<TargetAgent>> agents_;
};

class Server {
 public:
  Server(const ServeOptions& opt, std::shared_ptr<const attribute::MiddlewareRules> rules)
      : opt_(opt), rules_(std::move(rules)) {}

  std::shared_ptr<TargetAgent> launch(pid_t pid, uint64_t start_time, const std::string& exe,
                                      const std::string& container) {
    start_times_[pid] = start_time;
    if (oom_) (void)oom_->watch_exit(pid);
    AgentOptions a;
    a.rec = opt_.rec;
    a.rec.pid = pid;
    a.rec.duration_s = 0;
    a.rec.interval_s = 0;
    a.rec.on_attached = [](const std::string& line) { log_line(line); };
    a.rec.on_notice = [pid](const std::string& line) { log_line(fmt::format("process {}: {}", pid, line)); };
    a.rec.on_status = nullptr;
    // Every refresh would scan the heap again for the same waits: the
    // verdicts stand while the waits do, rescanned every 5 minutes.
    a.rec.reach_reuse_s = 300;
    // An exited target is noticed within half a second (its series go
    // within 5 s); ten /proc reads a second per target cost more than that.
    a.rec.liveness_s = 0.5;
    a.rec.on_interval = nullptr;
    a.rules = rules_;
    a.labels = {int(pid), exe, container};
    a.refresh_s = opt_.refresh_s;
    a.top = opt_.top;
    a.log = log_line;
    auto agent = std::make_shared<TargetAgent>(std::move(a));
    registry_.add(pid, agent);
    return agent;
  }

  // Drops the targets that exited or could not be attached: their series
  // go with them. One that failed is not tried again (--discover).
  void reap() {
    for (const auto& a : registry_.list()) {
      if (!a->ended()) continue;
      const pid_t pid = a->labels().pid;
      const AgentView v = a->view();
      if (v.state == AgentState::kFailed) {
        log_line(fmt::format("cannot attach to process {}: {}", pid, v.problem));
        failed_.insert({pid, start_times_[pid]});
      }
      registry_.take(pid);
      if (oom_) oom_->unwatch_exit(pid);
      // Kept per PID held, not per PID ever seen: serve runs for months.
      start_times_.erase(pid);
      last_word_written_.erase(pid);
    }
  }

  // --discover: attach to the Go servers that appeared (or restarted under
  // a PID we held), drop the ones whose PID now names another process.
  void discover(target::DiscoverOptions dopt) {
    // A process that could not be attached is not tried again while it
    // lives; once gone, it is forgotten.
    std::erase_if(failed_, [](const auto& f) { return !target::same_process(f.first, f.second); });
    dopt.skip = failed_;
    for (const auto& [pid, start] : start_times_) dopt.skip.insert({pid, start});
    for (const target::DiscoveredProcess& p : target::discover_go_servers(dopt)) {
      // Not skipped, yet held: the PID now names another process.
      if (registry_.holds(p.pid)) registry_.take(p.pid);
      log_line(fmt::format("discovered process {} ({}){}", p.pid, p.exe,
                           p.container.empty() ? "" : " in container " + p.container.substr(0, 12)));
      launch(p.pid, p.start_time, p.exe_name, p.container);
    }
  }

  // The kernel's OOM killer picked a victim, or a target was killed: its
  // last snapshot's heap and goroutines into --pprof-dir, counted in /metrics.
  void on_process_end(const probes::ProcessEnd& end) {
    const bool oom = end.kind == probes::ProcessEnd::Kind::OomVictim;
    if (!oom && !(end.killed_by_signal() && end.signal() == SIGKILL)) return;
    auto agent = registry_.find(end.pid);
    if (!agent) return;
    const std::string reason = oom ? "oom" : "killed";
    if (oom) last_word_written_.insert(end.pid);
    else if (last_word_written_.count(end.pid)) return;  // the OOM kill's exit: said already
    const AgentView v = agent->view();
    const std::string exe = agent->labels().exe;
    {
      std::lock_guard lock(last_words_mu_);
      last_words_[{exe, reason}]++;
    }
    if (!v.profile) {
      log_line(fmt::format("process {} ({}): {}, before its first snapshot: nothing to write", end.pid, exe,
                           oom ? "picked by the OOM killer" : "killed"));
      return;
    }
    std::string written;
    if (!opt_.pprof_dir.empty()) {
      const std::string stem = fmt::format("{}-{}-{}-{}", file_safe(exe), end.pid, reason,
                                           interval_file_stem(*v.profile));
      for (const auto& [ext, bytes] : {std::pair<std::string, std::string>{".heap.pb.gz", render_pprof_heap(*v.profile)},
                                       {".goroutine.pb.gz", render_pprof_goroutines(*v.profile)}}) {
        auto path = write_new_file(opt_.pprof_dir, stem, ext, bytes);
        if (path) written += (written.empty() ? "" : " and ") + *path;
        else log_line(path.error().message);
      }
    }
    log_line(fmt::format("process {} ({}) {}: its last snapshot ({:.0f} s into the recording){}", end.pid, exe,
                         oom ? "was picked by the OOM killer" : "was killed", v.profile->meta.duration_s,
                         written.empty() ? " is counted in /metrics (no --pprof-dir to write it to)"
                                         : " written to " + written));
  }

  void watch_ends(std::unique_ptr<probes::OomWatch> w) { oom_ = std::move(w); }
  probes::OomWatch* oom() { return oom_.get(); }

  AgentMetrics agent_metrics() {
    AgentMetrics m = read_own_usage();
    std::lock_guard lock(last_words_mu_);
    m.last_words = last_words_;
    return m;
  }

  Registry& registry() { return registry_; }

 private:
  const ServeOptions& opt_;
  std::shared_ptr<const attribute::MiddlewareRules> rules_;
  Registry registry_;
  std::mutex last_words_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> last_words_;
  // The main loop's own (no lock): each target's identity, and what not to
  // try again.
  std::map<pid_t, uint64_t> start_times_;
  std::set<std::pair<pid_t, uint64_t>> failed_;
  std::set<pid_t> last_word_written_;
  std::unique_ptr<probes::OomWatch> oom_;
};

bool stopping(const ServeOptions& opt) { return opt.stop && opt.stop->load(); }

}  // namespace

int run_serve(const ServeOptions& opt) {
  if (opt.pids.empty() && !opt.discover) {
    log_line("which targets? give -p PID (repeatable) or --discover (see serve --help)");
    return 1;
  }
  auto listen = parse_listen(opt.listen);
  if (!listen) {
    log_line(listen.error().message);
    return 1;
  }
  auto rules = attribute::MiddlewareRules::create(opt.middleware_patterns);
  if (!rules) {
    log_line(rules.error().message);
    return 1;
  }
  // One thread per target: glibc would give each its own arena and keep
  // each one's peak (a snapshot's) resident. Two arenas serve them all.
  mallopt(M_ARENA_MAX, 2);
  Server server(opt, std::make_shared<const attribute::MiddlewareRules>(std::move(*rules)));
  HttpSources sources;
  sources.targets = [&server] { return server.registry().list(); };
  sources.agent_metrics = [&server] { return server.agent_metrics(); };
  sources.top = opt.top;
  sources.stop = opt.stop;
  // The port first: a port in use fails before anything attaches.
  auto api = HttpApi::bind(listen->first, listen->second, sources);
  if (!api) {
    log_line(api.error().message);
    return 1;
  }
  target::DiscoverOptions dopt;
  if (!opt.discover_exe.empty()) {
    auto re = target::compile_exe_regex(opt.discover_exe);
    if (!re) {
      log_line("--discover-exe: " + re.error().message);
      return 1;
    }
    dopt.exe_regex = std::move(*re);
  }
  // The last words of a target the OOM killer picks (or kill -9 ends).
  if (auto watch = probes::OomWatch::attach())
    server.watch_ends(std::move(*watch));
  else
    log_line("warning: no last words for dying targets: " + watch.error().message);
  // -p targets: each must attach, as the one-shot command's would.
  for (pid_t pid : opt.pids) server.launch(pid, target::process_start_time(pid).value_or(0), target::read_exe_name(pid),
                                       target::read_container_id(pid));
  for (const auto& agent : server.registry().list()) {
    while (agent->view().state == AgentState::kAttaching && !stopping(opt))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const AgentView v = agent->view();
    if (v.state == AgentState::kFailed) {
      log_line(v.problem);  // names the process
      return 1;             // the agents detach as they go
    }
  }
  if (stopping(opt)) return 0;
  (*api)->start();
  log_line(fmt::format("serving http://{}:{}/metrics and /debug/pprof/{{heap,goroutine}}?pid=PID for {} target(s); "
                       "Ctrl-C or SIGTERM detaches",
                       listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first,
                       (*api)->port(), server.registry().list().size()));
  // Discovery twice a second: a new server is attached within 2 s of
  // listening (attaching itself takes most of a second on a large binary).
  auto next_discovery = std::chrono::steady_clock::now();
  while (!stopping(opt)) {
    server.reap();
    if (opt.discover && std::chrono::steady_clock::now() >= next_discovery) {
      server.discover(dopt);
      next_discovery = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    }
    if (server.oom()) {
      auto handled = server.oom()->poll(100, [&server](const probes::ProcessEnd& e) { server.on_process_end(e); });
      if (!handled) log_line("warning: " + handled.error().message);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  log_line("stopping: detaching from every target");
  api->reset();
  for (const auto& a : server.registry().list()) server.registry().take(a->labels().pid);
  return 0;
}

}  // namespace mws::serve
