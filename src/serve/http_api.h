// serve's HTTP side (cpp-httplib): /metrics for Prometheus, and
// /debug/pprof/heap and /debug/pprof/goroutine with Go's conventions
// (?pid=PID picks the target, ?seconds=N gives the change over N seconds),
// for go tool pprof, Parca and Grafana Alloy's pyroscope.scrape.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serve/target_agent.h"
#include "util/result.h"

namespace mws::serve {

// What the HTTP side asks of serve: the targets held now, and the rest of
// /metrics.
struct HttpSources {
  std::function<std::vector<std::shared_ptr<TargetAgent>>()> targets;
  std::function<AgentMetrics()> agent_metrics;
  size_t top = 20;
  const std::atomic<bool>* stop = nullptr;  // ends a ?seconds=N wait
};

class HttpApi {
 public:
  // Binds now (a port in use fails here, before anything attaches).
  static Result<std::unique_ptr<HttpApi>> bind(const std::string& host, int port, HttpSources sources);
  ~HttpApi();  // stops serving
  void start();  // serves on its own threads
  int port() const;

 private:
  HttpApi() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (loopback: another address
// only when given explicitly).
Result<std::pair<std::string, int>> parse_listen(const std::string& listen);

}  // namespace mws::serve
