#include "cli/serve_command.h"

#include <cstdio>

#include "cli/number_check.h"
#include "cli/output_options.h"
#include "report/reporter.h"
#include "util/terminal_text.h"

namespace mws::cli {

inline constexpr const char* kServing = "Serving";

CLI::App* add_serve_command(CLI::App& app, ServeCli& cli) {
  auto* serve = app.add_subcommand(
      "serve",
      "Stay attached to running Go servers and serve /metrics (Prometheus) and /debug/pprof/heap and goroutine "
      "(go tool pprof, Parca, Pyroscope) until SIGINT or SIGTERM, then detach");
  serve->add_option("--listen", cli.opt.listen,
                    "Address to serve on; loopback unless another address is given explicitly (0.0.0.0:9464)")
      ->type_name("HOST:PORT")
      ->group(kServing)
      ->capture_default_str();
  // A ring per target, around the clock: 2 MiB (mapped twice) holds seconds
  // of the default mode's events, drained every 50 ms; --ringbuf-mb raises it.
  cli.recording.ringbuf_mb = 2;
  add_recording_options(*serve, cli.recording);
  serve->remove_option(serve->get_option("--pid"));
  serve->remove_option(serve->get_option("--duration"));
  serve->add_option("-p,--pid", cli.pids, "PID of a running Go server to stay attached to (repeatable)")
      ->type_name("PID")
      ->check(number_check("a process ID", 1, true))
      ->group(kWhatToRecord);
  serve->add_flag("--discover", cli.opt.discover,
                  "Every Go process on the host that listens on TCP, in containers too: new and restarted servers "
                  "are attached within 2 s, exited ones dropped, processes that are not Go left alone")
      ->group(kWhatToRecord);
  serve->add_option("--discover-exe", cli.opt.discover_exe,
                    "With --discover: only executables whose path matches REGEX")
      ->type_name("REGEX")
      ->group(kWhatToRecord);
  add_middleware_option(*serve, cli.opt.middleware_patterns, kWhatToRecord);
  serve->add_option("--refresh", cli.opt.refresh_s,
                    "Seconds between snapshots of each target (its goroutines, heap and counters) for /metrics")
      ->type_name("SECONDS")
      ->check(number_of("seconds", 0.5))
      ->group(kServing)
      ->capture_default_str();
  serve->add_option("--top", cli.opt.top, "Middleware per target in each per-middleware metric, beside (other)")
      ->type_name("N")
      ->check(whole_number_of("rows", 1))
      ->group(kServing)
      ->capture_default_str();
  serve->add_option("--pprof-dir", cli.opt.pprof_dir,
                    "Write the last heap and goroutine profiles of a target the OOM killer picks into DIR")
      ->type_name("DIR")
      ->group(kServing);
  return serve;
}

int run_serve_command(const CLI::App& serve_app, ServeCli& cli, const std::atomic<bool>* stop) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "mwscope: %s\n", terminal_safe(message).c_str());
    return 1;
  };
  auto rec = resolve_recording(serve_app, cli.recording, false);
  if (!rec) return fail(rec.error().message);
  if (cli.pids.empty() && !cli.opt.discover) return fail("which targets? give -p PID (repeatable) or --discover");
  if (!cli.pids.empty() && cli.opt.discover) return fail("give -p PID or --discover, not both");
  if (!cli.opt.discover_exe.empty() && !cli.opt.discover) return fail("--discover-exe narrows --discover: add it");
  if (!cli.opt.pprof_dir.empty())
    if (auto st = mws::check_writable(cli.opt.pprof_dir + "/mwscope.pb.gz"); !st) return fail(st.error().message);
  cli.opt.rec = std::move(*rec);
  cli.opt.rec.stop = stop;
  cli.opt.rec.stop_again = stop;
  for (int pid : cli.pids) cli.opt.pids.push_back(pid);
  cli.opt.stop = stop;
  return serve::run_serve(cli.opt);
}

}  // namespace mws::cli
