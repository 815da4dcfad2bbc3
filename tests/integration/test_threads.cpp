// --threads against the truth: fixtures that hold OS threads in numbers
// they know and report themselves. tests/fixtures/cthreads is a plain C
// program (no Go runtime); tests/fixtures/cgoserver is a cgo HTTP server
// whose middleware start goroutines that block in C, with a goroutine
// locked to its thread and pthreads started from C.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct ThreadRecording {
  Child mw;
  std::string json_path, folded_path;
};

ThreadRecording start_thread_recording(pid_t pid, const std::string& name, std::vector<std::string> extra = {}) {
  const std::string json_path = temp_path(name + ".json"), folded_path = temp_path(name + ".threads");
  std::vector<std::string> argv{mwscope_binary(), "-p", std::to_string(pid), "--threads", "--json", json_path,
                                "--threads-folded", folded_path};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ThreadRecording r{Child::spawn(argv), json_path, folded_path};
  auto attached = r.mw.wait_stderr_line("attached", seconds(30));
  INFO(r.mw.stderr_text());
  REQUIRE(attached);
  return r;
}

json stop_thread_recording(ThreadRecording& r) {
  r.mw.signal(SIGINT);
  INFO(r.mw.stderr_text());
  REQUIRE(r.mw.wait(seconds(60)) == 0);
  return read_profile_json(r.json_path);
}

// The live threads of every group that matches.
uint64_t threads_where(const json& threads, const std::function<bool(const json&)>& match) {
  uint64_t n = 0;
  for (const auto& g : threads.at("groups"))
    if (match(g)) n += g.at("count").get<uint64_t>();
  return n;
}

// Sum of the weights of a folded file.
uint64_t folded_weight(const std::string& path) {
  std::istringstream in(read_file(path));
  uint64_t total = 0;
  for (std::string line; std::getline(in, line);) {
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    total += std::stoull(line.substr(space + 1));
  }
  return total;
}

// The thread ids of a process, as the kernel lists them (/proc/PID/task):
// the truth about its threads.
std::set<pid_t> task_ids(pid_t pid) {
  std::set<pid_t> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    out.insert(std::stoi(t.path().filename().string()));
  return out;
}

size_t count_not_in(const std::set<pid_t>& a, const std::set<pid_t>& b) {
  size_t n = 0;
  for (pid_t t : a) n += !b.count(t);
  return n;
}

bool stack_has(const json& frames, const std::string& function) {
  for (const auto& f : frames)
    if (f.at("function") == function) return true;
  return false;
}

}  // namespace

TEST_CASE("threads of a plain C program: the blocked ones and those started while recording", "[bpf][threads]") {
  const int workers = 6, late = 4;
  SpawnOptions so;
  so.stdin_pipe = true;
  Child c = Child::spawn({fixture("cthreads"), std::to_string(workers)}, so);
  REQUIRE(c.wait_stdout_line("ready pid", seconds(10)));
  ThreadRecording rec = start_thread_recording(c.pid(), "cthreads");
  REQUIRE(c.write_stdin("spawn " + std::to_string(late) + "\n"));
  REQUIRE(c.wait_stdout_line("spawned", seconds(10)));
  json profile = stop_thread_recording(rec);
  const json& t = profile.at("threads");
  INFO(t.dump(1).substr(0, 4000));

  CHECK(t.at("recorded") == true);
  CHECK(t.at("dropped") == 0);
  CHECK(t.at("go_threads") == 0);
  // By construction: main, the blocked workers, the late ones; nothing else
  // in this program starts or ends a thread.
  CHECK(t.at("live_at_start") == 1 + workers);
  CHECK(t.at("live_at_end") == 1 + workers + late);
  CHECK(t.at("created") == late);
  CHECK(t.at("exited") == 0);
  auto named = [&](const std::string& comm) {
    return threads_where(t, [&](const json& g) { return g.at("comm") == comm && g.at("holder") == "not a Go thread"; });
  };
  CHECK(named("cworker") == uint64_t(workers));
  CHECK(named("clate") == uint64_t(late));
  CHECK(threads_where(t, [](const json& g) { return g.at("comm") == "clate"; }) ==
        threads_where(t, [](const json& g) {
          return g.at("comm") == "clate" && g.at("created_while_recording") == g.at("count");
        }));
  for (const auto& g : t.at("groups"))
    if (g.at("comm") == "cworker") CHECK(g.at("state").get<std::string>().rfind("read", 0) == 0);
  CHECK(folded_weight(rec.folded_path) == uint64_t(1 + workers + late));
  CHECK(c.running());
}

void mws::test::check_threads_cgo(const std::string& cgoserver) {
  Server server = start_server(cgoserver);
  // --goroutines: the creation stacks of goroutines started while recording
  // carry the middleware chain.
  // The kernel's list of the server's threads just before mwscope starts
  // and just after it has attached: its own reading at the attach lies
  // between the two (the Go runtime may start a thread of its own at any
  // time, e.g. when sysmon hands off a P).
  const std::set<pid_t> tasks_before_start = task_ids(server.child.pid());
  ThreadRecording rec = start_thread_recording(server.child.pid(), "cgoserver", {"--goroutines", "--no-allocs"});
  const std::set<pid_t> tasks_after_start = task_ids(server.child.pid());
  const int requests = 5, k = 3, cthreads = 4;
  for (int i = 0; i < requests; i++) REQUIRE(http_get(server.port, "/block?k=" + std::to_string(k)));
  REQUIRE(http_get(server.port, "/lock"));
  REQUIRE(http_get(server.port, "/cthreads?n=" + std::to_string(cthreads)));
  // Wait until every goroutine is inside C and every thread is blocked:
  // the fixture's own counts.
  json state;
  for (int tries = 0; tries < 200; tries++) {
    state = json::parse(*http_get(server.port, "/state"));
    if (state.at("in_c") == requests * k && state.at("locked") == 1 && state.at("cthreads") == cthreads) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  INFO(state.dump());
  REQUIRE(state.at("in_c") == requests * k);
  REQUIRE(state.at("locked") == 1);
  REQUIRE(state.at("cthreads") == cthreads);
  // The same just before and just after the stop.
  const std::set<pid_t> tasks_before_end = task_ids(server.child.pid());
  json profile = stop_thread_recording(rec);
  const std::set<pid_t> tasks_after_end = task_ids(server.child.pid());
  REQUIRE(server.child.running());
  const json& t = profile.at("threads");
  INFO(t.dump(1).substr(0, 6000));

  CHECK(t.at("problem") == "");
  CHECK(t.at("dropped") == 0);
  // Every goroutine the fixture put in C holds a thread, in a cgo call,
  // charged to the middleware whose code started it.
  CHECK(threads_where(t, [](const json& g) {
          // Go 1.21+ names the closures after inlining CBlock into main.
          return g.at("holder") == "cgo call" && g.at("middleware") == "main.CBlock" &&
                 g.at("start_function").get<std::string>().find("CBlock.func") != std::string::npos;
        }) == uint64_t(requests * k));
  for (const auto& g : t.at("groups"))
    if (g.at("holder") == "cgo call" && g.at("middleware") == "main.CBlock") {
      CHECK(stack_has(g.at("stack"), "runtime.cgocall"));
      CHECK(stack_has(g.at("stack"), "main._Cfunc_block_in_c"));
      bool created_in_cblock = false;
      for (const auto& f : g.at("creation_stack"))
        created_in_cblock |= f.at("function").get<std::string>().find("CBlock.func") != std::string::npos;
      CHECK(created_in_cblock);
    }
  // The goroutine that locked its thread and parked for ever.
  CHECK(threads_where(t, [](const json& g) {
          return g.at("holder") == "locked goroutine" && g.at("start_function") == "main.lockHandler.func1";
        }) == 1);
  // pthreads started from C: no Go M, found by their name.
  CHECK(threads_where(t, [](const json& g) {
          return g.at("holder") == "not a Go thread" && g.at("comm") == "cgo-cthread";
        }) == uint64_t(cthreads));
  // Against the kernel's own list: the threads alive at start and at the
  // end, the ones created while recording (the C ones and every Go M the
  // blocked goroutines needed beyond those that existed) and the ones that
  // exited (none: a Go M never exits unless a locked goroutine ends, and the
  // locked one here parks for ever; the C threads block until exit). Each
  // equals the kernel's figure when the two reads around mwscope's agree
  // (they mostly do), and lies between them when the runtime started a
  // thread in that instant: the only tolerance, the truth's own.
  INFO("tasks at start " << tasks_before_start.size() << ".." << tasks_after_start.size() << ", at end "
                         << tasks_before_end.size() << ".." << tasks_after_end.size());
  const uint64_t live_at_start = t.at("live_at_start"), live_at_end = t.at("live_at_end");
  const uint64_t created = t.at("created");
  CHECK(live_at_start >= tasks_before_start.size());
  CHECK(live_at_start <= tasks_after_start.size());
  CHECK(live_at_end >= tasks_before_end.size());
  CHECK(live_at_end <= tasks_after_end.size());
  CHECK(created >= count_not_in(tasks_before_end, tasks_after_start));
  CHECK(created <= count_not_in(tasks_after_end, tasks_before_start));
  CHECK(t.at("exited").get<uint64_t>() == count_not_in(tasks_before_start, tasks_after_end));
  CHECK(live_at_end == live_at_start + created - t.at("exited").get<uint64_t>());
  CHECK(count_not_in(tasks_before_end, tasks_after_start) >= size_t(cthreads));
  CHECK(folded_weight(rec.folded_path) == t.at("live_at_end").get<uint64_t>());
  uint64_t grouped = 0;
  for (const auto& g : t.at("groups")) grouped += g.at("count").get<uint64_t>();
  CHECK(grouped == t.at("live_at_end").get<uint64_t>());
}

TEST_CASE("threads of a cgo server: held in C by middleware goroutines, locked, and C pthreads", "[bpf][threads]") {
  check_threads_cgo("cgoserver");
}
