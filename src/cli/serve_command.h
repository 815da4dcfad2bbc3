// `mwscope serve`: its command line. The recording options are the
// one-shot command's (cli/record_options.h) but for -p, which serve
// repeats, and -d, which it has none of: it runs until SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "cli/record_options.h"
#include "serve/serve.h"

namespace mws::cli {

struct ServeCli {
  RecordingCli recording;
  serve::ServeOptions opt;
  std::vector<int> pids;
};

CLI::App* add_serve_command(CLI::App& app, ServeCli& cli);

// Runs serve as parsed; the exit code.
int run_serve_command(const CLI::App& serve_app, ServeCli& cli, const std::atomic<bool>* stop);

}  // namespace mws::cli
