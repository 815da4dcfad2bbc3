// The options that say what to record from a running process, for any
// CLI::App that records: `mwscope -p PID` today, a `serve` subcommand later.
// One call adds them; one call turns what was given into RecordOptions.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

#include "record/record_options.h"
#include "util/result.h"

namespace mws::cli {

// Help groups, in the order --help shows them.
inline constexpr const char* kWhatToRecord = "What to record";
inline constexpr const char* kOutputs = "Outputs";
inline constexpr const char* kLeakVerdict = "Leak verdict";
inline constexpr const char* kTuning = "Tuning";

// What the command line gives before it is resolved: the options that map
// one to one, and the ones whose meaning depends on others (flag pairs whose
// default follows --mode, the ring buffer in MiB).
struct RecordingCli {
  record::RecordOptions rec;
  uint64_t ringbuf_mb = 32;
  // Plain flag pairs: CLI11 gives a negatable std::optional<bool> flag a
  // value even when neither spelling is on the command line.
  bool goroutines_on = false, goroutines_off = false;
  bool requests_on = false, requests_off = false;
  bool no_allocs = false;
};

// Adds to `app`: what to record (-p, -d, --mode, --goroutines, --requests,
// --no-allocs, --c-heap, --threads, --go-sample-rate), the leak verdict
// (--leak-age, --reach-seconds, --reach-mib) and tuning (--ringbuf-mb).
// --middleware belongs to the outputs' options (cli/output_options.h): a
// saved Profile is attributed again with it.
void add_recording_options(CLI::App& app, RecordingCli& cli);

// RecordOptions from what `app` parsed: the defaults that follow --mode, the
// ring buffer in bytes, the Go-only options given. An error when a value is
// refused (no PID, a ring buffer that is not a power of two). `needs_pid`
// false: the caller names its targets itself (serve).
Result<record::RecordOptions> resolve_recording(const CLI::App& app, const RecordingCli& cli, bool needs_pid = true);

}  // namespace mws::cli
