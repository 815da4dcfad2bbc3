// `mwscope serve`: stays attached to its targets (-p PID ..., or every Go
// server on the host with --discover) until SIGINT/SIGTERM, serves
// /metrics and /debug/pprof/* (serve/http_api.h), writes a dying target's
// last words, then detaches everything.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "record/record_options.h"

namespace mws::serve {

struct ServeOptions {
  std::string listen = "127.0.0.1:9464";
  std::vector<pid_t> pids;
  bool discover = false;
  std::string discover_exe;  // regex on the executable's path; empty: every Go server
  // The recording of each target (pid filled per target; duration, interval
  // and callbacks unused).
  record::RecordOptions rec;
  std::vector<std::string> middleware_patterns;
  double refresh_s = 15;  // seconds between snapshots of each target
  size_t top = 20;        // middleware per target and metric, beside "(other)"
  std::string pprof_dir;  // the last words of dying targets; empty: not written
  const std::atomic<bool>* stop = nullptr;
};

// Returns the exit code; errors are one line on stderr.
int run_serve(const ServeOptions& opt);

}  // namespace mws::serve
