// mwscope command line: wiring only. Every decision lives in src/*/.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <new>
#include <ostream>
#include <string>

#include "attribute/attribution.h"
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

// A check for a finite number >= min, a whole one when `whole`, whose
// message says what is wrong and what is expected, e.g. "'-5' is too small:
// give a number of seconds of at least 0" (CLI11's own range checks print a
// 309-digit bound and call "abc" out of range). `kind`: "a number of seconds".
CLI::Validator number_check(const std::string& kind, double min, bool whole) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || (whole && v != std::floor(v)))
          return "'" + s + "' is not " + kind;
        if (v < min) return fmt::format("'{}' is too small: give {} of at least {}", s, kind, min);
        return "";
      },
      whole ? "INT" : "NUMBER");
}
CLI::Validator number_of(const std::string& unit, double min) { return number_check("a number of " + unit, min, false); }
CLI::Validator whole_number_of(const std::string& unit, double min) {
  return number_check("a whole number of " + unit, min, true);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "mwscope: %s\n", mws::terminal_safe(message).c_str());
  return 1;
}

struct OutputOptions {
  std::string weight = "bytes";
  std::string folded_path;
  std::string json_path;
  std::string leaks_folded_path;
  std::string threads_folded_path;
  std::string pprof_path, pprof_goroutines_path;
  std::vector<std::string> middleware_patterns;
  bool group_by_middleware = false;
  size_t top = 20;
};

void add_output_options(CLI::App& app, OutputOptions& out) {
  app.add_option("--weight", out.weight,
                 "What folded stacks and the top table weigh: bytes, objects (sampled mode: estimates), samples "
                 "(raw, sampled mode), inuse-bytes or inuse-objects (the whole heap in use at the end, as of the last GC), "
                 "c-bytes or c-inuse-bytes (the C heap, --c-heap: allocated while recording, and of that still "
                 "allocated at the end)")
      ->check(CLI::IsMember({"bytes", "objects", "samples", "inuse-bytes", "inuse-objects", "c-bytes", "c-inuse-bytes"}))
      ->capture_default_str();
  app.add_option("--folded", out.folded_path, "Write flame-graph input (folded stacks) to FILE");
  app.add_option("--json", out.json_path, "Write the recording as a Profile (JSON) to FILE");
  app.add_option("--leaks-folded", out.leaks_folded_path,
                 "Write one folded line per leaked goroutine group (creation stack, live count) to FILE");
  app.add_option("--threads-folded", out.threads_folded_path,
                 "Write one folded line per group of live threads at the end (holder, go statement, stack; "
                 "weighted by thread count) to FILE (recording with --threads)");
  app.add_option("--pprof", out.pprof_path,
                 "Write a heap profile (gzipped profile.proto: alloc and inuse objects and space, a middleware label "
                 "per sample) to FILE, for go tool pprof");
  app.add_option("--pprof-goroutines", out.pprof_goroutines_path,
                 "Write a goroutine profile of the goroutines alive at the end (labels state, leaked, middleware) to "
                 "FILE, for go tool pprof");
  app.add_option("--top", out.top, "Rows in the top allocation sites table")
      ->check(whole_number_of("rows", 1))
      ->capture_default_str();
  app.add_option("--middleware", out.middleware_patterns,
                 "Also treat functions matching REGEX as middleware (repeatable), e.g. 'myco/api/mw\\.'");
  app.add_option_function<std::string>(
         "--group-by", [&out](const std::string&) { out.group_by_middleware = true; },
         "middleware: folded stacks start with the owning middleware, so a flame graph splits by it first")
      ->check(CLI::IsMember({"middleware"}));
}

// What can be checked of the outputs before recording: the weight, and
// that every output file can be created. A mistake found after recording
// would cost the recording.
int check_outputs(const OutputOptions& out, const std::string& mode, bool c_heap) {
  auto weight = mws::parse_weight(out.weight);
  if (!weight) return fail(weight.error().message);
  if (mws::is_c_heap(*weight) && !c_heap)
    return fail("--weight " + out.weight + " ranks the C heap: add --c-heap");
  if (mws::needs_sampled_mode(*weight) && mode != "sampled")
    return fail("--weight " + out.weight + " needs sampled mode (raw samples come from the Go runtime's "
                "sampler); drop --mode " + mode + ", or use --weight bytes or objects");
  for (const std::string* path :
       {&out.folded_path, &out.leaks_folded_path, &out.threads_folded_path, &out.json_path, &out.pprof_path, &out.pprof_goroutines_path})
    if (!path->empty())
      if (auto st = mws::check_writable(*path); !st) return fail(st.error().message);
  return 0;
}

int emit(mws::Profile& profile, const OutputOptions& out, const mws::attribute::MiddlewareRules& rules) {
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
        [&](std::ostream& o) { mws::write_folded(profile, *weight, out.group_by_middleware, o); });
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

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"mwscope: which middleware allocates what, on a running Go server (eBPF, no restart)"};
  app.set_version_flag("--version", MWSCOPE_VERSION);
  app.require_subcommand(0, 1);

  mws::record::RecordOptions rec;
  OutputOptions out;
  uint64_t ringbuf_mb = 32;
  // Parse errors: one line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "mwscope: " + std::string(e.what()) + " (see --help)\n";
  });
  app.add_option("-p,--pid", rec.pid, "PID of the running Go server to profile")->check(number_check("a process ID", 1, true));
  app.add_option("-d,--duration", rec.duration_s, "Seconds to record (default: until Ctrl-C)")
      ->check(number_of("seconds", 0));
  app.add_option("--mode", rec.mode,
                 "sampled: the Go runtime's own heap samples (1 per MemProfileRate bytes), with frees and in-use; "
                 "nearly free. exact: every allocation, through runtime.mallocgc and the size-specialised allocators; "
                 "a uprobe trap each")
      ->check(CLI::IsMember({"sampled", "exact"}))
      ->capture_default_str();
  app.add_option("--go-sample-rate", rec.go_sample_rate,
                 "Sampled mode: first set the target's runtime.MemProfileRate to BYTES (writes into the process; "
                 "for targets whose rate is 0)")
      ->check(whole_number_of("bytes", 1));
  app.add_option("--ringbuf-mb", ringbuf_mb, "Ring buffer size in MiB (power of two, 1 to 1024)")
      ->check(whole_number_of("MiB", 1))
      ->capture_default_str();
  app.add_flag("--bench-empty-program", rec.empty_programs,
               "Benchmarks only: attach a BPF program that records nothing to every probe site")
      ->group("");
  app.add_option("--leak-age", rec.leak_age_s,
                 "A goroutine a request started that has been blocked on a channel, select, lock or semaphore "
                 "longer than this many seconds is leaked, and a request blocked that long in its handler is stuck "
                 "in flight (read from the target's memory in every mode; the rule: README)")
      ->check(number_of("seconds", 0))
      ->capture_default_str();
  app.add_option("--reach-seconds", rec.reach_seconds,
                 "Budget of the reachability scan behind 'leaked: unreachable' (two looks at the target's memory, "
                 "which runs meanwhile): seconds; 0 turns it off. Cut short, what it did not decide is suspect")
      ->check(number_of("seconds", 0))
      ->capture_default_str();
  app.add_option("--reach-mib", rec.reach_mib, "Budget of the reachability scan: MiB of the target's memory read")
      ->check(whole_number_of("MiB", 1))
      ->capture_default_str();
  // Goroutine tracking and request counting cost a uprobe trap per
  // goroutine / request (net/http starts a goroutine per request): on by
  // default in exact mode, opt-in in sampled mode.
  // Plain flag pairs: CLI11 gives a negatable std::optional<bool> flag a
  // value even when neither spelling is on the command line.
  bool goroutines_on = false, goroutines_off = false, requests_on = false, requests_off = false;
  bool no_allocs = false;
  auto* g_on = app.add_flag("--goroutines", goroutines_on,
                            "Track goroutine creation and exit (default: on in exact mode, off in sampled mode)");
  app.add_flag("--no-goroutines", goroutines_off, "Do not track goroutines")->excludes(g_on);
  auto* r_on = app.add_flag("--requests", requests_on,
                            "Count HTTP requests for per-request figures (default: on in exact mode, off in "
                            "sampled mode)");
  app.add_flag("--no-requests", requests_off, "Do not count requests")->excludes(r_on);
  double interval_s = 0;
  std::string pprof_dir;
  app.add_option("--interval", interval_s,
                 "Every S seconds, a compact report of the last interval (per middleware objects/s and bytes/s, "
                 "in-use change, leak groups, drops); redrawn in place on a terminal, appended otherwise")
      ->check(number_of("seconds", 0.5));
  app.add_option("--pprof-dir", pprof_dir,
                 "With --interval: write a heap profile (pprof, everything since attach) per interval into DIR, "
                 "named by time; never overwrites a file");
  app.add_flag("--no-allocs", no_allocs,
               "Do not probe the allocator: goroutine leak tracking only, probes fire only on spawn and exit");
  app.add_flag("--c-heap", rec.track_c_heap,
               "Also probe the C allocator (glibc malloc, calloc, realloc, memalign, posix_memalign, free): C "
               "memory behind cgo charged to the Go middleware that called into C, or the heap of a plain C/C++ "
               "process. Each call traps into the kernel: see the README for what it costs");
  app.add_flag("--threads", rec.track_threads,
               "Record OS thread creation and exit (kernel tracepoints, no trap in the target) and report what "
               "holds each live thread at the end: a goroutine in a cgo call or system call, a locked goroutine, "
               "or nothing. Works on any process, Go or not");
  add_output_options(app, out);

  std::string profile_path;
  OutputOptions report_out;
  auto* report = app.add_subcommand("report", "Render a saved Profile (from --json) without the target");
  report->add_option("profile", profile_path, "Profile JSON written by --json")->required();
  add_output_options(*report, report_out);

  std::string before_path, after_path;
  std::vector<std::string> diff_patterns;
  double fail_over = -1;
  size_t diff_top = 10;
  auto* diff = app.add_subcommand("diff", "Compare two saved Profiles (from --json): per middleware, per site, leaks");
  diff->add_option("before", before_path, "Profile JSON of the first recording")->required();
  diff->add_option("after", after_path, "Profile JSON of the second recording")->required();
  diff->add_option("--fail-over", fail_over,
                   "Exit 3 when any middleware's objects per request grew by more than PCT percent (a new one "
                   "counts), to gate a release")
      ->check(number_of("percent", 0));
  diff->add_option("--middleware", diff_patterns,
                   "Also treat functions matching REGEX as middleware in both (repeatable)");
  diff->add_option("--top", diff_top, "Rows in the changed sites table")->check(whole_number_of("rows", 1));

  CLI11_PARSE(app, argc, argv);

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

  if (rec.pid <= 0) return fail("which process? give its PID with -p PID (see --help)");
  // Checked before anything attaches.
  auto rules = mws::attribute::MiddlewareRules::create(out.middleware_patterns);
  if (!rules) return fail(rules.error().message);
  if (ringbuf_mb > 1024 || (ringbuf_mb & (ringbuf_mb - 1)) != 0)
    return fail("--ringbuf-mb must be a power of two from 1 to 1024 (MiB)");
  if (int rc = check_outputs(out, rec.mode, rec.track_c_heap); rc != 0) return rc;
  rec.ringbuf_bytes = ringbuf_mb << 20;
  const bool exact = rec.mode == "exact";
  // Leaks (--leak-age, --leaks-folded) come from every goroutine read from
  // the target's memory at the end, in every mode and without a probe; the
  // spawn probes (--goroutines) add the creation stacks of those born while
  // recording.
  rec.track_goroutines = goroutines_on || (!goroutines_off && (exact || no_allocs));
  rec.count_requests = requests_on || (!requests_off && exact);
  rec.track_allocations = !no_allocs;
  if (!out.threads_folded_path.empty() && !rec.track_threads)
    return fail("--threads-folded writes the threads --threads records: add --threads");
  // What a target without a Go runtime refuses (record/thread_recorder.h).
  for (const char* go_only : {"--mode", "--goroutines", "--requests", "--go-sample-rate", "--interval", "--pprof-dir",
                              "--pprof-goroutines", "--leaks-folded"})
    if (app.count(go_only) > 0) rec.go_only_options.push_back(go_only);
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
  if (!pprof_dir.empty() && interval_s <= 0) return fail("--pprof-dir writes one file per --interval: give --interval S");
  if (!pprof_dir.empty())
    if (auto st = mws::check_writable(pprof_dir + "/mwscope.pb.gz"); !st) return fail(st.error().message);
  mws::LiveView live;
  const bool redraw = isatty(STDOUT_FILENO);
  rec.interval_s = interval_s;
  rec.on_interval = [&](mws::Profile p) {
    mws::attribute::attribute_profile(p, *rules);
    const std::string when = mws::textfmt::utc_time(mws::interval_end_unix_ns(p));
    // A terminal shows the newest block in place, like top; a pipe or file
    // keeps every block, each under its time.
    std::string block = redraw ? "\x1b[H\x1b[2J" : "--- " + when + " ---\n";
    block += live.render(p);
    std::fputs(block.c_str(), stdout);
    std::fflush(stdout);
    if (pprof_dir.empty()) return;
    auto path = mws::write_new_file(pprof_dir, mws::interval_file_stem(p), ".pb.gz", mws::render_pprof_heap(p));
    if (!path) std::fprintf(stderr, "mwscope: %s\n", mws::terminal_safe(path.error().message).c_str());
  };
  // Until Ctrl-C on a terminal: one status line, rewritten each second.
  const bool status = isatty(STDERR_FILENO) && rec.duration_s == 0 && interval_s == 0;
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

// Out of memory anywhere is one line and a non-zero exit, never an abort;
// the probes are gone by then (GoProbes detaches in its destructor).
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (is mwscope under a memory or address-space limit?)");
  }
}
