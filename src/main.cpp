// mwscope command line: wiring only. Every decision lives in src/*/.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <new>
#include <ostream>
#include <string>

#include "attribute/attribution.h"
#include "cli/number_check.h"
#include "cli/output_options.h"
#include "cli/record_options.h"
#include "cli/serve_command.h"
#include "record/recording.h"
#include "report/diff.h"
#include "report/folded.h"
#include "report/json.h"
#include "report/leaks.h"
#include "report/live.h"
#include "report/pprof.h"
#include "report/reporter.h"
#include "report/text.h"
#include "report/text_format.h"
#include "report/threads.h"
#include "report/weight.h"
#include "util/terminal_text.h"
#include "version.h"

namespace {

std::atomic<bool> g_stop{false};
// A second Ctrl-C or SIGTERM: also cut the reading of the target's state
// that follows the recording (the first one ends the recording).
std::atomic<bool> g_stop_again{false};

void on_signal(int) {
  if (g_stop.exchange(true)) g_stop_again.store(true);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: a blocked poll returns at once
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "mwscope: %s\n", mws::terminal_safe(message).c_str());
  return 1;
}

int emit(mws::Profile& profile, const mws::cli::OutputOptions& out, const mws::attribute::MiddlewareRules& rules) {
  mws::attribute::attribute_profile(profile, rules);
  for (const auto& r : profile.user_rules)
    if (r.frames_matched == 0)
      std::fprintf(stderr, "mwscope: warning: --middleware '%s' matched no frame in this profile\n", r.pattern.c_str());
  auto weight = mws::parse_weight(out.weight);
  if (!weight) return fail(weight.error().message);
  if (auto st = mws::check_weight(profile, *weight); !st) return fail(st.error().message);
  int rc = 0;
  try {
    std::fputs(mws::render_text(profile, *weight, out.top).c_str(), stdout);
  } catch (const std::bad_alloc&) {
    rc = fail("out of memory while rendering the text report; the file outputs are still written");
  }
  std::fflush(stdout);
  // Each output on its own: one that fails does not cost the others.
  auto write = [&](const std::string& path, const std::string& what,
                   const std::function<void(std::ostream&)>& produce) {
    if (path.empty()) return;
    try {
      if (auto st = mws::write_file(path, produce); !st) {
        rc = fail(st.error().message);
        return;
      }
    } catch (const std::bad_alloc&) {
      rc = fail("cannot write " + path + ": out of memory while writing the " + what + "; the other outputs were written");
      return;
    }
    std::fprintf(stderr, "mwscope: wrote %s to %s\n", what.c_str(), path.c_str());
  };
  write(out.folded_path, "folded stacks (" + mws::describe_folded(profile, *weight) + ")",
        [&](std::ostream& o) { mws::write_folded(profile, *weight, out.group_by, o); });
  write(out.leaks_folded_path, "leaked goroutine stacks (" + mws::describe_leaks_folded(profile) + ")",
        [&](std::ostream& o) { o << mws::render_leaks_folded(profile); });
  write(out.threads_folded_path, "thread groups (" + mws::describe_threads_folded(profile) + ")",
        [&](std::ostream& o) { o << mws::render_threads_folded(profile); });
  write(out.json_path, "profile", [&](std::ostream& o) { mws::write_json(profile, o); });
  write(out.pprof_path, mws::describe_pprof_heap(profile), [&](std::ostream& o) { o << mws::render_pprof_heap(profile); });
  write(out.pprof_goroutines_path, mws::describe_pprof_goroutines(profile),
        [&](std::ostream& o) { o << mws::render_pprof_goroutines(profile); });
  return rc;
}

// mwscope diff: both profiles attributed alike, the changes, and the gate.
int run_diff(const std::string& before_path, const std::string& after_path, const std::vector<std::string>& patterns,
             double fail_over, size_t top) {
  auto rules = mws::attribute::MiddlewareRules::create(patterns);
  if (!rules) return fail(rules.error().message);
  std::vector<mws::Profile> profiles;
  for (const std::string& path : {before_path, after_path}) {
    auto text = mws::read_file(path);
    if (!text) return fail(text.error().message);
    auto profile = mws::parse_profile_json(*text);
    if (!profile) return fail(path + ": " + profile.error().message);
    mws::attribute::attribute_profile(*profile, *rules);
    profiles.push_back(std::move(*profile));
  }
  const mws::ProfileDiff d = mws::diff_profiles(profiles[0], profiles[1]);
  std::fputs(mws::render_diff_text(d, profiles[0], profiles[1], top).c_str(), stdout);
  std::fflush(stdout);
  if (fail_over < 0) return 0;
  auto grown = mws::grown_over(d, fail_over);
  if (!grown) return fail(grown.error().message);
  if (grown->empty()) return 0;
  std::fprintf(stderr, "mwscope: objects per request grew by more than %g%% in %s\n", fail_over,
               mws::describe_changes(d, *grown).c_str());
  return 3;
}

// The one-shot command: record (with the live view and the status line
// when asked), then every output.
int run_record(const CLI::App& app, const mws::cli::RecordingCli& recording, const mws::cli::OutputOptions& out,
               const mws::cli::IntervalOptions& interval) {
  // Checked before anything attaches.
  auto resolved = mws::cli::resolve_recording(app, recording);
  if (!resolved) return fail(resolved.error().message);
  auto rules = mws::attribute::MiddlewareRules::create(out.middleware_patterns);
  if (!rules) return fail(rules.error().message);
  mws::record::RecordOptions& rec = *resolved;
  if (auto st = mws::cli::check_outputs(out, rec.mode, rec.track_c_heap); !st) return fail(st.error().message);
  if (!out.threads_folded_path.empty() && !rec.track_threads)
    return fail("--threads-folded writes the threads --threads records: add --threads");
  install_signal_handlers();
  rec.stop = &g_stop;
  rec.stop_again = &g_stop_again;
  rec.on_attached = [](const std::string& line) {
    std::fprintf(stderr, "mwscope: %s; recording, Ctrl-C to stop\n", mws::terminal_safe(line).c_str());
  };
  // Messages carry the target's strings (its path, its version): one sanitizer before the terminal.
  rec.on_notice = [](const std::string& line) {
    std::fprintf(stderr, "mwscope: %s\n", mws::terminal_safe(line).c_str());
  };
  if (auto st = mws::cli::check_interval(interval); !st) return fail(st.error().message);
  mws::LiveView live;
  const bool redraw = isatty(STDOUT_FILENO);
  rec.interval_s = interval.interval_s;
  rec.on_interval = [&](mws::Profile p) {
    mws::attribute::attribute_profile(p, *rules);
    const std::string when = mws::textfmt::utc_time(mws::interval_end_unix_ns(p));
    // A terminal shows the newest block in place, like top; a pipe or file
    // keeps every block, each under its time.
    std::string block = redraw ? "\x1b[H\x1b[2J" : "--- " + when + " ---\n";
    block += live.render(p);
    std::fputs(block.c_str(), stdout);
    std::fflush(stdout);
    if (interval.pprof_dir.empty()) return;
    auto path = mws::write_new_file(interval.pprof_dir, mws::interval_file_stem(p), ".pb.gz", mws::render_pprof_heap(p));
    if (!path) std::fprintf(stderr, "mwscope: %s\n", mws::terminal_safe(path.error().message).c_str());
  };
  // Until Ctrl-C on a terminal: one status line, rewritten each second.
  const bool status = isatty(STDERR_FILENO) && rec.duration_s == 0 && interval.interval_s == 0;
  uint64_t last_events = 0;
  double last_elapsed = 0;
  if (status)
    rec.on_status = [&](const mws::record::LiveStatus& s) {
      const double span = std::max(s.elapsed_s - last_elapsed, 1e-9);
      const double rate = double(s.events - std::min(s.events, last_events)) / span;
      std::fprintf(stderr, "\r%s\x1b[K", mws::status_line(s.elapsed_s, rate, s.dropped).c_str());
      last_events = s.events;
      last_elapsed = s.elapsed_s;
    };
  auto profile = mws::record::record(rec);
  if (status && last_elapsed > 0) std::fputs("\n", stderr);  // end the status line
  if (!profile) return fail(profile.error().message);
  return emit(*profile, out, *rules);
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"mwscope: which middleware allocates what, on a running Go server (eBPF, no restart)"};
  app.set_version_flag("--version", MWSCOPE_VERSION);
  app.require_subcommand(0, 1);
  // Parse errors: one line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "mwscope: " + std::string(e.what()) + " (see --help)\n";
  });

  mws::cli::RecordingCli recording;
  mws::cli::OutputOptions out;
  mws::cli::IntervalOptions interval;
  mws::cli::add_recording_options(app, recording);
  mws::cli::add_middleware_option(app, out.middleware_patterns, mws::cli::kWhatToRecord);
  mws::cli::add_output_options(app, out);
  mws::cli::add_interval_options(app, interval);

  std::string profile_path;
  mws::cli::OutputOptions report_out;
  auto* report = app.add_subcommand("report", "Render a saved Profile (from --json) without the target");
  report->add_option("profile", profile_path, "Profile JSON written by --json")->type_name("PROFILE")->required();
  mws::cli::add_middleware_option(*report, report_out.middleware_patterns, mws::cli::kOutputs);
  mws::cli::add_output_options(*report, report_out);

  std::string before_path, after_path;
  std::vector<std::string> diff_patterns;
  double fail_over = -1;
  size_t diff_top = 10;
  auto* diff = app.add_subcommand("diff", "Compare two saved Profiles (from --json): per middleware, per site, leaks");
  diff->add_option("before", before_path, "Profile JSON of the first recording")->type_name("BEFORE")->required();
  diff->add_option("after", after_path, "Profile JSON of the second recording")->type_name("AFTER")->required();
  diff->add_option("--fail-over", fail_over,
                   "Exit 3 when any middleware's objects per request grew by more than PCT percent (a new one "
                   "counts), to gate a release")
      ->type_name("PCT")
      ->check(mws::cli::number_of("percent", 0));
  diff->add_option("--middleware", diff_patterns, "Also treat functions matching REGEX as middleware in both (repeatable)")
      ->type_name("REGEX");
  diff->add_option("--top", diff_top, "Rows in the changed sites table")
      ->type_name("N")
      ->check(mws::cli::whole_number_of("rows", 1))
      ->capture_default_str();

  mws::cli::ServeCli serve_cli;
  auto* serve = mws::cli::add_serve_command(app, serve_cli);

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    install_signal_handlers();
    return mws::cli::run_serve_command(*serve, serve_cli, &g_stop);
  }
  if (*diff) return run_diff(before_path, after_path, diff_patterns, fail_over, diff_top);

  if (*report) {
    auto text = mws::read_file(profile_path);
    if (!text) return fail(text.error().message);
    auto rules = mws::attribute::MiddlewareRules::create(report_out.middleware_patterns);
    if (!rules) return fail(rules.error().message);
    auto profile = mws::parse_profile_json(*text);
    if (!profile) return fail(profile_path + ": " + profile.error().message);
    return emit(*profile, report_out, *rules);
  }

  return run_record(app, recording, out, interval);
}

// Out of memory anywhere is one line and a non-zero exit, never an abort;
// the probes are gone by then (GoProbes detaches in its destructor).
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (is mwscope under a memory or address-space limit?)");
  }
}
