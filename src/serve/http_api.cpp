#include "serve/http_api.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "report/pprof.h"
#include "report/pprof_delta.h"

namespace mws::serve {
namespace {

// The longest ?seconds=N: a scrape that never ends would hold a thread.
constexpr int kMaxDeltaSeconds = 300;

void plain(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body + "\n", "text/plain; charset=utf-8");
}

}  // namespace

struct HttpApi::Impl {
  httplib::Server server;
  HttpSources sources;
  int port = 0;
  std::thread thread;

  // The target a /debug/pprof request names with ?pid=, or the only one.
  std::shared_ptr<TargetAgent> pick(const httplib::Request& req, httplib::Response& res) {
    const auto targets = sources.targets();
    if (!req.has_param("pid")) {
      if (targets.size() == 1) return targets.front();
      std::string pids;
      for (const auto& t : targets) pids += fmt::format("{}{}", pids.empty() ? "" : ", ", t->labels().pid);
      plain(res, 400, targets.empty() ? "no target is held yet"
                                      : "which target? add ?pid=PID (held: " + pids + ")");
      return nullptr;
    }
    const std::string pid = req.get_param_value("pid");
    for (const auto& t : targets)
      if (std::to_string(t->labels().pid) == pid) return t;
    plain(res, 404, "no target with PID " + pid.substr(0, 20) + " is held (GET /metrics lists them)");
    return nullptr;
  }

  // /debug/pprof/heap and /debug/pprof/goroutine: the profile now, or with
  // ?seconds=N the change over the next N seconds.
  void serve_profile(const httplib::Request& req, httplib::Response& res, const char* name,
                     std::string (*render)(const Profile&)) {
    if (req.has_param("debug") && req.get_param_value("debug") != "0") {
      plain(res, 400, "only debug=0 (the pprof protocol buffer) is served");
      return;
    }
    int seconds = 0;
    if (req.has_param("seconds")) {
      const std::string s = req.get_param_value("seconds");
      char* end = nullptr;
      const long v = std::strtol(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || v <= 0 || v > kMaxDeltaSeconds) {
        plain(res, 400, fmt::format("seconds must be a whole number from 1 to {}", kMaxDeltaSeconds));
        return;
      }
      seconds = int(v);
    }
    auto target = pick(req, res);
    if (!target) return;
    auto first = target->fresh();
    if (!first) {
      plain(res, 503, "cannot read process " + std::to_string(target->labels().pid) + ": " + first.error().message);
      return;
    }
    std::string body = render(**first);
    if (seconds > 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
      while (std::chrono::steady_clock::now() < until) {
        if (sources.stop && sources.stop->load()) {
          plain(res, 503, "mwscope is stopping");
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      auto second = target->fresh();
      if (!second) {
        plain(res, 503, "cannot read process " + std::to_string(target->labels().pid) + ": " + second.error().message);
        return;
      }
      auto delta = pprof_delta(body, render(**second));
      if (!delta) {
        plain(res, 500, delta.error().message);
        return;
      }
      body = std::move(*delta);
    }
    res.set_header("Content-Disposition", fmt::format("attachment; filename=\"{}\"", name));
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::move(body), "application/octet-stream");
  }

  std::string metrics() {
    std::vector<TargetMetrics> rows;
    std::vector<AgentView> views;  // keep the snapshots alive while rendering
    const auto targets = sources.targets();
    views.reserve(targets.size());
    for (const auto& t : targets) {
      views.push_back(t->view());
      const AgentView& v = views.back();
      rows.push_back({t->labels(), v.state == AgentState::kUp, v.profile.get(), v.allocs.get(), v.snapshot_seconds});
    }
    return render_metrics(rows, sources.agent_metrics(), sources.top);
  }

  std::string index() {
    std::string body =
        "mwscope serve\n\n"
        "/metrics                              Prometheus metrics of every target\n"
        "/debug/pprof/heap?pid=PID             heap profile (alloc and inuse, middleware labels); &seconds=N: the "
        "change over N s\n"
        "/debug/pprof/goroutine?pid=PID        goroutine profile (state, verdict, middleware labels)\n\n"
        "Targets:\n";
    for (const auto& t : sources.targets()) {
      const AgentView v = t->view();
      body += fmt::format("  {} {} ({}){}\n", t->labels().pid, t->labels().exe, describe(v.state),
                          v.problem.empty() ? "" : ": " + v.problem);
    }
    return body;
  }
};

Result<std::unique_ptr<HttpApi>> HttpApi::bind(const std::string& host, int port, HttpSources sources) {
  std::unique_ptr<HttpApi> api(new HttpApi());
  api->impl_ = std::make_unique<Impl>();
  Impl& impl = *api->impl_;
  impl.sources = std::move(sources);
  auto& svr = impl.server;
  svr.Get("/metrics", [&impl](const httplib::Request&, httplib::Response& res) {
    res.set_content(impl.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/debug/pprof/heap", [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.serve_profile(req, res, "heap", render_pprof_heap);
  });
  svr.Get("/debug/pprof/allocs", [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.serve_profile(req, res, "allocs", render_pprof_heap);  // Go's allocs is the heap profile too
  });
  svr.Get("/debug/pprof/goroutine", [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.serve_profile(req, res, "goroutine", render_pprof_goroutines);
  });
  for (const char* path : {"/", "/debug/pprof/"})
    svr.Get(path, [&impl](const httplib::Request&, httplib::Response& res) { plain(res, 200, impl.index()); });
  svr.set_keep_alive_max_count(100);
  svr.set_read_timeout(10, 0);
  if (port == 0) {
    impl.port = svr.bind_to_any_port(host);
    if (impl.port <= 0) return Error{fmt::format("cannot listen on {}: no free port", host)};
  } else {
    if (!svr.bind_to_port(host, port))
      return Error{fmt::format("cannot listen on {}:{}: {} (is the port in use? give another with --listen)", host,
                               port, std::strerror(errno))};
    impl.port = port;
  }
  return api;
}

void HttpApi::start() {
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

HttpApi::~HttpApi() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int HttpApi::port() const { return impl_->port; }

Result<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  std::string host = "127.0.0.1", port = listen;
  if (const size_t colon = listen.rfind(':'); colon != std::string::npos) {
    port = listen.substr(colon + 1);
    if (colon > 0) host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535)
    return Error{"--listen '" + listen + "': give HOST:PORT, e.g. 127.0.0.1:9464"};
  if (host.empty()) return Error{"--listen '" + listen + "': the host is empty"};
  return std::make_pair(host, int(p));
}

}  // namespace mws::serve
