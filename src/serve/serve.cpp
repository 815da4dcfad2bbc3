#include "serve/serve.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "attribute/middleware_rules.h"
#include "report/pprof.h"
#include "report/reporter.h"
#include "serve/http_api.h"
#include "serve/target_agent.h"
#include "target/process.h"
#include "util/terminal_text.h"

namespace mws::serve {
namespace {

void log_line(const std::string& line) {
  std::fprintf(stderr, "mwscope: %s\n", terminal_safe(line).c_str());
  std::fflush(stderr);
}

// The executable's base name, as /proc/PID/exe links to it.
std::string exe_base_name(pid_t pid) {
  char buf[4096];
  const ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, size_t(n));
  if (const std::string deleted = " (deleted)"; path.size() > deleted.size() && path.ends_with(deleted))
    path.resize(path.size() - deleted.size());
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
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

 private:
  mutable std::mutex mu_;
  std::map<pid_t, std::shared_ptr<TargetAgent>> agents_;
};

class Server {
 public:
  Server(const ServeOptions& opt, std::shared_ptr<const attribute::MiddlewareRules> rules)
      : opt_(opt), rules_(std::move(rules)) {}

  std::shared_ptr<TargetAgent> launch(pid_t pid, const std::string& exe, const std::string& container) {
    AgentOptions a;
    a.rec = opt_.rec;
    a.rec.pid = pid;
    a.rec.duration_s = 0;
    a.rec.interval_s = 0;
    a.rec.on_attached = [](const std::string& line) { log_line(line); };
    a.rec.on_notice = [pid](const std::string& line) { log_line(fmt::format("process {}: {}", pid, line)); };
    a.rec.on_status = nullptr;
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
  // go with them.
  void reap() {
    for (const auto& a : registry_.list()) {
      if (!a->ended()) continue;
      const AgentView v = a->view();
      if (v.state == AgentState::kFailed)
        log_line(fmt::format("cannot attach to process {}: {}", a->labels().pid, v.problem));
      registry_.take(a->labels().pid);
    }
  }

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
  // -p targets: each must attach, as the one-shot command's would.
  for (pid_t pid : opt.pids) server.launch(pid, exe_base_name(pid), "");
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
  while (!stopping(opt)) {
    server.reap();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log_line("stopping: detaching from every target");
  api->reset();
  for (const auto& a : server.registry().list()) server.registry().take(a->labels().pid);
  return 0;
}

}  // namespace mws::serve
