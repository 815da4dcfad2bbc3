// Bad input: one line on stderr that says what is wrong, a non-zero exit,
// and no BPF program of ours left loaded.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <signal.h>
#include <thread>

#include "harness.h"
#include "model/profile.h"

using namespace mws::test;
using namespace std::chrono;
using json = nlohmann::json;

namespace {

uint32_t newest_program_id() {
  uint32_t id = 0;
  for (const auto& p : loaded_bpf_programs()) id = std::max(id, p.id);
  return id;
}

// Programs of ours (bpf/go.bpf.c names them on_*) loaded after `since`
// and still loaded: another mwscope on the machine does not count.
size_t our_programs_since(uint32_t since) {
  auto progs = loaded_bpf_programs();
  return std::count_if(progs.begin(), progs.end(),
                       [&](const BpfProgram& p) { return p.id > since && p.name.rfind("on_", 0) == 0; });
}

void expect_one_line_error(const CommandResult& r, const std::string& needle, uint32_t since) {
  INFO("stderr: " << r.err << "stdout: " << r.out);
  CHECK(r.status != 0);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.rfind("mwscope: ", 0) == 0);
  CHECK(our_programs_since(since) == 0);
}

}  // namespace

TEST_CASE("a PID that does not exist", "[bpf][errors]") {
  int pid_max = 4194304;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  int pid = pid_max - 1;
  while (access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0) pid--;
  const uint32_t since = newest_program_id();
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(pid), "-d", "1"}), "no process with PID", since);
}

TEST_CASE("a process that is not Go", "[bpf][errors]") {
  Child sleeper = Child::spawn({"sleep", "60"});
  const uint32_t since = newest_program_id();
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(sleeper.pid()), "-d", "1"}),
                        "is not a Go program", since);
}

TEST_CASE("without the privileges to load BPF", "[bpf][errors]") {
  Server server = start_server("allocserver");
  // The same command as an unprivileged user (nobody).
  const uint32_t since = newest_program_id();
  expect_one_line_error(run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", mwscope_binary(), "-p",
                             std::to_string(server.child.pid()), "-d", "1"}),
                        "not permitted", since);
  CHECK(server.child.running());
}

// The least capabilities that work on this kernel (Linux 6.18), as the
// README states them: CAP_SYS_ADMIN and CAP_SYS_PTRACE, for a target running
// as root with every capability. setpriv limits the bounding set, so
// mwscope, run as root, holds exactly those two.
TEST_CASE("the least capabilities: CAP_SYS_ADMIN and CAP_SYS_PTRACE record, one fewer is one line naming it",
          "[bpf][errors][caps]") {
  Server server = start_server("allocserver");
  const std::string pid = std::to_string(server.child.pid());
  auto with_caps = [&](const std::string& caps, std::vector<std::string> args) {
    std::vector<std::string> argv{"setpriv", "--bounding-set=-all," + caps, "--", mwscope_binary(), "-p", pid};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };

  const std::string json_path = temp_path("least-caps.json");
  Child mw = Child::spawn(with_caps("+sys_admin,+sys_ptrace", {"--mode", "exact", "--json", json_path}));
  REQUIRE(mw.wait_stderr_line("recording", seconds(30)));
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; i++) REQUIRE(http_get(server.port, "/work"));
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  const auto profile = read_profile_json(json_path);
  CHECK(profile.at("requests").at("requests") == kRequests);  // every probe fired: counted exactly what we sent
  CHECK(profile.at("totals").at("objects").get<uint64_t>() > 0);

  // Without CAP_SYS_ADMIN: CAP_BPF and CAP_PERFMON load the programs, but
  // this kernel creates a uprobe only for CAP_SYS_ADMIN.
  uint32_t since = newest_program_id();
  auto r = run(with_caps("+bpf,+perfmon,+sys_ptrace", {"-d", "1", "--mode", "exact"}));
  expect_one_line_error(r, "CAP_SYS_ADMIN", since);
  // Without CAP_SYS_PTRACE: the target holds capabilities mwscope lacks.
  since = newest_program_id();
  expect_one_line_error(run(with_caps("+sys_admin", {"-d", "1", "--mode", "exact"})), "lacks CAP_SYS_PTRACE", since);
  CHECK(server.child.running());
}

TEST_CASE("no PID at all", "[bpf][errors]") {
  const uint32_t since = newest_program_id();
  expect_one_line_error(run({mwscope_binary()}), "-p PID", since);
}

TEST_CASE("a Go program whose heap sampler is off: the default mode says so and reads its goroutines, "
          "--go-sample-rate turns sampling on",
          "[bpf][errors][sampled]") {
  Server server = start_server("noprofserver");
  auto info = [&] {
    auto body = http_get(server.port, "/debug/info");
    REQUIRE(body);
    return json::parse(*body);
  };
  REQUIRE(info().at("memprofilerate") == 0);  // the fixture's construction: nothing reaches runtime.MemProfile
  constexpr int kLeaks = 12;
  for (int i = 0; i < kLeaks; i++) REQUIRE(http_get(server.port, "/leak"));  // leaked before anyone looked
  REQUIRE(info().at("leaked") == kLeaks);

  // No allocation can be sampled: said once, before recording, with what
  // to do instead; the goroutines are read all the same.
  const std::string json_path = temp_path("noprof-default.json"), folded_path = temp_path("noprof.folded");
  auto r = run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1.5", "--leak-age", "1",
                "--json", json_path, "--folded", folded_path});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.find("warning: no allocation will be recorded") != std::string::npos);
  CHECK(r.err.find("MemProfileRate is 0") != std::string::npos);
  CHECK(r.err.find("--mode exact") != std::string::npos);
  CHECK(r.err.find("wrote folded stacks (empty: no allocation was recorded") != std::string::npos);
  CHECK(r.out.find("Allocations: not recorded: the target's runtime.MemProfileRate is 0") != std::string::npos);
  CHECK(info().at("memprofilerate") == 0);  // nothing written without --go-sample-rate

  const json profile = read_profile_json(json_path);
  CHECK(profile.at("meta").at("allocations_tracked") == false);
  CHECK(profile.at("meta").at("allocations_unavailable").get<std::string>().find("MemProfileRate is 0") !=
        std::string::npos);
  const json& snap = profile.at("goroutines");
  REQUIRE(snap.at("read") == true);
  uint64_t parked = 0, leaked = 0;
  for (const auto& g : snap.at("groups")) {
    if (g.at("start_function") != "main.leakHandler.func1") continue;
    parked += g.at("count").get<uint64_t>();
    leaked += g.at("leaked").get<uint64_t>();
  }
  CHECK(parked == kLeaks);  // every one the fixture started, by its own count
  CHECK(leaked == kLeaks);  // blocked on a channel at both readings, past --leak-age
  CHECK(r.out.find("main.leakHandler") != std::string::npos);  // in the text report's goroutine table

  // Opt-in: the rate is written (with a warning) before the probes go
  // live, and at rate 1 every allocation is a sample: 4 per /work request.
  const std::string sampled_path = temp_path("noprof.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--go-sample-rate", "1",
                           "--json", sampled_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  CHECK(mw.stderr_text().find("warning: wrote runtime.MemProfileRate = 1") != std::string::npos);
  CHECK(info().at("memprofilerate") == 1);
  constexpr int kWork = 50, kWorkObjects = 4;  // the fixture's workObjects
  for (int i = 0; i < kWork; i++) REQUIRE(http_get(server.port, "/work"));
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  const json sampled = read_profile_json(sampled_path);
  CHECK(sampled.at("meta").at("allocations_tracked") == true);
  uint64_t work_samples = 0, work_bytes = 0;  // allocated in main.workHandler itself
  for (const auto& st : sampled.at("stacks")) {
    std::string site;
    for (const auto& f : st.at("frames"))
      if (site.empty() && !mws::is_runtime_function(f.at("function").get<std::string>())) site = f.at("function");
    if (site != "main.workHandler") continue;
    work_samples += st.at("samples").get<uint64_t>();
    work_bytes += st.at("sample_bytes").get<uint64_t>();
  }
  CHECK(work_samples == kWork * kWorkObjects);
  CHECK(work_bytes == kWork * kWorkObjects * 128);  // new([128]byte)
}

TEST_CASE("a killed mwscope leaves nothing attached and the target keeps serving", "[bpf][errors][safety]") {
  Server server = start_server("allocserver");
  const uint32_t since = newest_program_id();
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid())});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  CHECK(our_programs_since(since) > 0);  // the check below can see our programs
  REQUIRE(http_get(server.port, "/work"));
  mw.signal(SIGKILL);
  mw.wait(seconds(10));
  // BPF links are owned by file descriptors: the kernel drops them with the
  // process. Give it a moment to release them.
  for (int i = 0; i < 50 && our_programs_since(since) > 0; i++) std::this_thread::sleep_for(milliseconds(100));
  CHECK(our_programs_since(since) == 0);
  CHECK(http_get(server.port, "/work"));
  CHECK(server.child.running());
}

TEST_CASE("the target exiting while recording ends the recording with a report", "[bpf][errors]") {
  Server server = start_server("allocserver");
  const std::string json_path = temp_path("exited.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  REQUIRE(http_get(server.port, "/work"));
  server.child.signal(SIGTERM);
  server.child.wait(seconds(10));
  INFO(mw.stderr_text());
  CHECK(mw.wait(seconds(30)) == 0);
  CHECK(mw.stderr_text().find("exited") != std::string::npos);
  CHECK(mw.stdout_text().find("dropped events") != std::string::npos);
  CHECK(!read_file(json_path).empty());
}

TEST_CASE("a target that becomes a zombie ends the recording like one that exited", "[bpf][errors]") {
  // The server is this test's child: once it exits, and until the test reaps
  // it, it is a zombie (state Z): its code never runs again.
  Server server = start_server("allocserver");
  const std::string json_path = temp_path("zombie.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  REQUIRE(http_get(server.port, "/work"));
  server.child.signal(SIGTERM);  // not reaped: stays a zombie while mwscope records
  INFO(mw.stderr_text());
  CHECK(mw.wait(seconds(15)) == 0);  // ends by itself (before the fix: until Ctrl-C)
  CHECK(mw.stderr_text().find("exited") != std::string::npos);
  CHECK(mw.stdout_text().find("dropped events") != std::string::npos);
  CHECK(!read_file(json_path).empty());
  server.child.wait(seconds(10));
}

TEST_CASE("a weight the mode cannot give, or an output that cannot be written, is refused before attaching",
          "[bpf][errors]") {
  Server server = start_server("allocserver");
  const std::string pid = std::to_string(server.child.pid());
  const uint32_t since = newest_program_id();
  // Before the fix each of these recorded for the whole duration, then failed.
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::string ok_json = temp_path("refused-ok.json");
  for (const Case& c : {Case{{"--mode", "exact", "--weight", "samples"}, "--weight samples needs sampled mode"},
                        Case{{"--folded", "/nonexistent/dir/x.folded", "--json", ok_json},
                             "cannot write /nonexistent/dir/x.folded: cannot create a file in /nonexistent/dir"},
                        Case{{"--json", "/proc/version"}, "cannot write /proc/version: cannot create a file in /proc"},
                        Case{{"--leaks-folded", "/dev/null"}, "cannot write /dev/null: it is not a regular file"},
                        Case{{"--json", "/tmp"}, "cannot write /tmp: it is a directory"}}) {
    std::vector<std::string> argv{mwscope_binary(), "-p", pid, "-d", "30"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv, seconds(20));  // -d 30: a run that got as far as recording would time out here
    expect_one_line_error(r, c.needle, since);
    CHECK(r.err.find("attached") == std::string::npos);
  }
  CHECK(!std::ifstream(ok_json));  // nothing written: the run never started
  CHECK(server.child.running());
}

TEST_CASE("an output that fails at the end does not cost the others", "[bpf][errors]") {
  Server server = start_server("allocserver");
  const std::string dir = temp_path("vanishing-dir");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  const std::string json_path = temp_path("kept.json");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "2", "--folded",
                           dir + "/x.folded", "--json", json_path});
  REQUIRE(mw.wait_stderr_line("attached", seconds(30)));
  REQUIRE(::rmdir(dir.c_str()) == 0);  // the folded file can no longer be written
  INFO(mw.stderr_text());
  CHECK(mw.wait(seconds(30)) == 1);
  CHECK(mw.stderr_text().find("cannot write " + dir + "/x.folded") != std::string::npos);
  CHECK(mw.stderr_text().find("wrote profile to " + json_path) != std::string::npos);
  CHECK(!read_file(json_path).empty());
  CHECK(mw.stdout_text().find("dropped events") != std::string::npos);  // the report too
}

TEST_CASE("option values that make no sense are refused in one line that says what is expected", "[bpf][errors]") {
  const uint32_t since = newest_program_id();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : {
           Case{{"-d", "-5"}, "mwscope: --duration: '-5' is too small: give a number of seconds of at least 0"},
           Case{{"-d", "abc"}, "mwscope: --duration: 'abc' is not a number of seconds"},
           Case{{"-d", "nan"}, "mwscope: --duration: 'nan' is not a number of seconds"},
           Case{{"--leak-age", "-1"}, "mwscope: --leak-age: '-1' is too small: give a number of seconds of at least 0"},
           Case{{"--go-sample-rate", "0"},
                "mwscope: --go-sample-rate: '0' is too small: give a whole number of bytes of at least 1"},
           Case{{"--top", "-1"}, "mwscope: --top: '-1' is too small: give a whole number of rows of at least 1"},
           Case{{"--ringbuf-mb", "3"}, "mwscope: --ringbuf-mb must be a power of two from 1 to 1024 (MiB)"},
       }) {
    std::vector<std::string> argv{mwscope_binary(), "-p", std::to_string(getpid())};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv, seconds(20));
    expect_one_line_error(r, c.message, since);
  }
  auto r = run({mwscope_binary(), "-p", "abc"}, seconds(20));
  expect_one_line_error(r, "mwscope: --pid: 'abc' is not a process ID", since);
}

TEST_CASE("a process that is not Go records threads, and refuses Go-only options by name", "[bpf][errors][threads]") {
  Child sleeper = Child::spawn({"sleep", "60"});
  const uint32_t since = newest_program_id();
  expect_one_line_error(
      run({mwscope_binary(), "-p", std::to_string(sleeper.pid()), "-d", "1", "--threads", "--goroutines"}),
      "--goroutines need(s) a Go runtime", since);
  auto ok = run({mwscope_binary(), "-p", std::to_string(sleeper.pid()), "-d", "1", "--threads"});
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out.find("not a Go thread") != std::string::npos);
  // Tracepoint (tp_btf) programs are freed by the kernel after an RCU
  // grace period once their last fd closes, not at the instant mwscope exits.
  for (int i = 0; i < 50 && our_programs_since(since) != 0; i++) std::this_thread::sleep_for(milliseconds(100));
  CHECK(our_programs_since(since) == 0);
}

TEST_CASE("threads-folded without threads", "[bpf][errors][threads]") {
  Child sleeper = Child::spawn({"sleep", "60"});
  const uint32_t since = newest_program_id();
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(sleeper.pid()), "-d", "1", "--threads-folded",
                             temp_path("nothreads.folded")}),
                        "--threads-folded writes the threads --threads records", since);
}

// --help reads as people do: each value named for what it is, options
// grouped by what they are for, none of CLI11's type names.
TEST_CASE("the help output names values and groups options, as do report --help and diff --help", "[bpf][errors][cli]") {
  auto no_type_names = [](const std::string& help) {
    INFO(help);
    for (const char* raw : {"INT:INT", "FLOAT:NUMBER", "UINT:INT", "INT:NUMBER", ":INT", ":NUMBER", "TEXT", "FLOAT",
                            "UINT", "{sampled,exact}"})
      CHECK(help.find(raw) == std::string::npos);
  };
  auto r = run({mwscope_binary(), "--help"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (const char* want : {"-p,--pid PID", "-d,--duration SECONDS", "--mode sampled|exact", "--go-sample-rate BYTES",
                           "--middleware REGEX", "--folded FILE", "--json FILE", "--weight WEIGHT", "--top N",
                           "--group-by middleware", "--interval SECONDS", "--pprof-dir DIR", "--leak-age SECONDS",
                           "--reach-mib MIB", "--ringbuf-mb MIB", "What to record:", "Outputs:", "Leak verdict:",
                           "Tuning:"})
    CHECK(r.out.find(want) != std::string::npos);
  // Each option under its own title: a group runs from its title to the next blank line.
  auto group_of = [&](const std::string& option) {
    const size_t at = r.out.find(option);
    if (at == std::string::npos) return std::string("(missing)");
    const size_t title_end = r.out.rfind(":\n", at);
    const size_t title_start = r.out.rfind('\n', title_end - 1) + 1;
    return r.out.substr(title_start, title_end - title_start);
  };
  for (const char* o : {"--pid", "--duration", "--mode", "--goroutines", "--requests", "--no-allocs", "--c-heap",
                        "--threads ", "--go-sample-rate", "--middleware"})
    CHECK(group_of(o) == "What to record");
  for (const char* o : {"--folded", "--json", "--pprof ", "--pprof-goroutines", "--leaks-folded", "--threads-folded",
                        "--weight", "--top", "--group-by", "--interval", "--pprof-dir"})
    CHECK(group_of(o) == "Outputs");
  for (const char* o : {"--leak-age", "--reach-seconds", "--reach-mib"}) CHECK(group_of(o) == "Leak verdict");
  CHECK(group_of("--ringbuf-mb") == "Tuning");
  CHECK(r.out.find("--bench-empty-program") == std::string::npos);  // for benchmarks, not shown
  no_type_names(r.out);

  auto report = run({mwscope_binary(), "report", "--help"});
  INFO(report.out << report.err);
  REQUIRE(report.status == 0);
  for (const char* want : {"PROFILE", "--folded FILE", "--top N", "--middleware REGEX", "Outputs:"})
    CHECK(report.out.find(want) != std::string::npos);
  CHECK(report.out.find("--pid") == std::string::npos);
  no_type_names(report.out);

  auto diff = run({mwscope_binary(), "diff", "--help"});
  INFO(diff.out << diff.err);
  REQUIRE(diff.status == 0);
  for (const char* want : {"BEFORE", "AFTER", "--fail-over PCT", "--middleware REGEX", "--top N"})
    CHECK(diff.out.find(want) != std::string::npos);
  no_type_names(diff.out);
}
