// The recording options (cli/record_options.h) on an App of their own, as a
// `serve` subcommand would add them: what --help shows and what the flags
// resolve to. No process is touched.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>

#include <string>

#include "cli/output_options.h"
#include "cli/record_options.h"

using namespace mws;

namespace {

Result<record::RecordOptions> parse(const std::string& args) {
  CLI::App app{"test"};
  cli::RecordingCli recording;
  cli::add_recording_options(app, recording);
  app.parse(args, false);
  return cli::resolve_recording(app, recording);
}

}  // namespace

TEST_CASE("cli: the recording options go on any App with one call, values named, grouped", "[cli]") {
  CLI::App app{"serve"};
  cli::RecordingCli recording;
  cli::add_recording_options(app, recording);
  const std::string help = app.help();
  INFO(help);
  for (const char* want : {"-p,--pid PID", "-d,--duration SECONDS", "--ringbuf-mb MIB", "What to record:",
                           "Leak verdict:", "Tuning:"})
    CHECK(help.find(want) != std::string::npos);
  for (const char* raw : {"INT:INT", "FLOAT:NUMBER", "UINT:INT", "TEXT"}) CHECK(help.find(raw) == std::string::npos);
}

TEST_CASE("cli: goroutines and requests follow the mode unless a flag says otherwise", "[cli]") {
  auto sampled = parse("-p 42");
  REQUIRE(sampled);
  CHECK(sampled->pid == 42);
  CHECK_FALSE(sampled->track_goroutines);
  CHECK_FALSE(sampled->count_requests);
  CHECK(sampled->track_allocations);
  CHECK(sampled->ringbuf_bytes == 32ull << 20);
  CHECK(sampled->go_only_options.empty());

  auto exact = parse("-p 42 --mode exact --ringbuf-mb 64");
  REQUIRE(exact);
  CHECK(exact->track_goroutines);
  CHECK(exact->count_requests);
  CHECK(exact->ringbuf_bytes == 64ull << 20);
  CHECK(exact->go_only_options == std::vector<std::string>{"--mode"});

  auto off = parse("-p 42 --mode exact --no-goroutines --no-requests");
  REQUIRE(off);
  CHECK_FALSE(off->track_goroutines);
  CHECK_FALSE(off->count_requests);

  auto leaks_only = parse("-p 42 --no-allocs");  // goroutine tracking alone
  REQUIRE(leaks_only);
  CHECK(leaks_only->track_goroutines);
  CHECK_FALSE(leaks_only->track_allocations);

  auto on = parse("-p 42 --goroutines --requests");
  REQUIRE(on);
  CHECK(on->track_goroutines);
  CHECK(on->count_requests);
  CHECK(on->go_only_options == std::vector<std::string>{"--goroutines", "--requests"});
}

TEST_CASE("cli: what resolve_recording refuses", "[cli]") {
  auto no_pid = parse("");
  REQUIRE_FALSE(no_pid);
  CHECK(no_pid.error().message == "which process? give its PID with -p PID (see --help)");
  auto ring = parse("-p 42 --ringbuf-mb 3");
  REQUIRE_FALSE(ring);
  CHECK(ring.error().message == "--ringbuf-mb must be a power of two from 1 to 1024 (MiB)");
  CHECK_FALSE(parse("-p 42 --ringbuf-mb 2048"));
  CHECK_THROWS_AS(parse("-p 42 --goroutines --no-goroutines"), CLI::ExcludesError);
  CHECK_THROWS_AS(parse("-p abc"), CLI::ValidationError);
}

TEST_CASE("cli: the interval's pprof directory needs an interval", "[cli]") {
  cli::IntervalOptions opt;
  CHECK(cli::check_interval(opt));
  opt.pprof_dir = "/tmp";
  auto st = cli::check_interval(opt);
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "--pprof-dir writes one file per --interval: give --interval S");
  opt.interval_s = 1;
  CHECK(cli::check_interval(opt));
}
