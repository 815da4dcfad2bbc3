#include "cli/record_options.h"

#include "bpf/events.h"
#include "cli/number_check.h"

namespace mws::cli {

void add_recording_options(CLI::App& app, RecordingCli& cli) {
  record::RecordOptions& rec = cli.rec;
  app.add_option("-p,--pid", rec.pid, "PID of the running Go server to profile")
      ->type_name("PID")
      ->check(number_check("a process ID", 1, true))
      ->group(kWhatToRecord);
  app.add_option("-d,--duration", rec.duration_s, "Seconds to record (default: until Ctrl-C)")
      ->type_name("SECONDS")
      ->check(number_of("seconds", 0))
      ->group(kWhatToRecord);
  app.add_option("--mode", rec.mode,
                 "sampled: the Go runtime's own heap samples (1 per MemProfileRate bytes), with frees and in-use; "
                 "nearly free. exact: every allocation, through runtime.mallocgc and the size-specialised allocators; "
                 "a uprobe trap each")
      ->type_name("sampled|exact")
      ->check(one_of({"sampled", "exact"}))
      ->capture_default_str()
      ->group(kWhatToRecord);
  // Goroutine tracking and request counting cost a uprobe trap per
  // goroutine / request (net/http starts a goroutine per request): on by
  // default in exact mode, opt-in in sampled mode.
  auto* g_on = app.add_flag("--goroutines", cli.goroutines_on,
                            "Track goroutine creation and exit (default: on in exact mode, off in sampled mode)")
                   ->group(kWhatToRecord);
  app.add_flag("--no-goroutines", cli.goroutines_off, "Do not track goroutines")->excludes(g_on)->group(kWhatToRecord);
  auto* r_on = app.add_flag("--requests", cli.requests_on,
                            "Count HTTP requests for per-request figures (default: on in exact mode, off in "
                            "sampled mode)")
                   ->group(kWhatToRecord);
  auto* no_r = app.add_flag("--no-requests", cli.requests_off, "Do not count requests")->excludes(r_on)->group(kWhatToRecord);
  app.add_flag("--by-route", rec.by_route,
               "Attribute allocations and goroutines to the route of the request they serve (router pattern and "
               "method): net/http.ServeMux, gin, chi, echo, gorilla/mux. One uprobe trap per request at the router "
               "(single-stepped on ServeMux before Go 1.22); exact mode also counts requests (a second)")
      ->excludes(no_r)
      ->group(kWhatToRecord);
  app.add_flag("--no-allocs", cli.no_allocs,
               "Do not probe the allocator: goroutine leak tracking only, probes fire only on spawn and exit")
      ->group(kWhatToRecord);
  app.add_flag("--c-heap", rec.track_c_heap,
               "Also probe the C allocator (glibc malloc, calloc, realloc, memalign, posix_memalign, free): C "
               "memory behind cgo charged to the Go middleware that called into C, or the heap of a plain C/C++ "
               "process. Each call traps into the kernel: see the README for what it costs")
      ->group(kWhatToRecord);
  app.add_flag("--threads", rec.track_threads,
               "Record OS thread creation and exit (kernel tracepoints, no trap in the target) and report what "
               "holds each live thread at the end: a goroutine in a cgo call or system call, a locked goroutine, "
               "or nothing. Works on any process, Go or not")
      ->group(kWhatToRecord);
  app.add_option("--go-sample-rate", rec.go_sample_rate,
                 "Sampled mode: first set the target's runtime.MemProfileRate to BYTES (writes into the process; "
                 "for targets whose rate is 0)")
      ->type_name("BYTES")
      ->check(whole_number_of("bytes", 1))
      ->group(kWhatToRecord);

  app.add_option("--leak-age", rec.leak_age_s,
                 "A goroutine a request started that has been blocked on a channel, select, lock or semaphore "
                 "longer than this many seconds is leaked, and a request blocked that long in its handler is stuck "
                 "in flight (read from the target's memory in every mode; the rule: README)")
      ->type_name("SECONDS")
      ->check(number_of("seconds", 0))
      ->capture_default_str()
      ->group(kLeakVerdict);
  app.add_option("--reach-seconds", rec.reach_seconds,
                 "Budget of the reachability scan behind 'leaked: unreachable' (two looks at the target's memory, "
                 "which runs meanwhile): seconds; 0 turns it off. Cut short, what it did not decide is suspect")
      ->type_name("SECONDS")
      ->check(number_of("seconds", 0))
      ->capture_default_str()
      ->group(kLeakVerdict);
  app.add_option("--reach-mib", rec.reach_mib, "Budget of the reachability scan: MiB of the target's memory read")
      ->type_name("MIB")
      ->check(whole_number_of("MiB", 1))
      ->capture_default_str()
      ->group(kLeakVerdict);

  app.add_option("--ringbuf-mb", cli.ringbuf_mb, "Ring buffer size in MiB (power of two, 1 to 1024)")
      ->type_name("MIB")
      ->check(whole_number_of("MiB", 1))
      ->capture_default_str()
      ->group(kTuning);
  app.add_flag("--bench-empty-program", rec.empty_programs,
               "Benchmarks only: attach a BPF program that records nothing to every probe site")
      ->group("");  // hidden
  app.add_option("--test-pending-slots", rec.pending_slots,
                 "Tests only: allocation keys a request holds in the kernel before its router runs")
      ->check(CLI::Range(0u, unsigned(MWS_PENDING_SLOTS)))
      ->group("");  // hidden
}

Result<record::RecordOptions> resolve_recording(const CLI::App& app, const RecordingCli& cli, bool needs_pid) {
  record::RecordOptions rec = cli.rec;
  if (needs_pid && rec.pid <= 0) return Error{"which process? give its PID with -p PID (see --help)"};
  if (cli.ringbuf_mb > 1024 || (cli.ringbuf_mb & (cli.ringbuf_mb - 1)) != 0)
    return Error{"--ringbuf-mb must be a power of two from 1 to 1024 (MiB)"};
  rec.ringbuf_bytes = cli.ringbuf_mb << 20;
  const bool exact = rec.mode == "exact";
  // Leaks (--leak-age, --leaks-folded) come from every goroutine read from
  // the target's memory at the end, in every mode and without a probe; the
  // spawn probes (--goroutines) add the creation stacks of those born while
  // recording.
  rec.track_goroutines = cli.goroutines_on || (!cli.goroutines_off && (exact || cli.no_allocs));
  rec.count_requests = cli.requests_on || (!cli.requests_off && exact);
  rec.track_allocations = !cli.no_allocs;
  // What a target without a Go runtime refuses (record/thread_recorder.h).
  for (const char* go_only : {"--mode", "--goroutines", "--requests", "--by-route", "--go-sample-rate", "--interval", "--pprof-dir",
                              "--pprof-goroutines", "--leaks-folded"})
    if (const CLI::Option* o = app.get_option_no_throw(go_only); o != nullptr && o->count() > 0)
      rec.go_only_options.push_back(go_only);
  return rec;
}

}  // namespace mws::cli
