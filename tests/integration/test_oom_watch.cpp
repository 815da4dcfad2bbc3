// OomWatch (probes/oom_watch.h) against the kernel's own OOM killer: a
// child in a memory cgroup of 20 MiB reads /dev/zero into one line that
// never ends (`tail /dev/zero`) until the kernel kills it. By construction
// it is the only process of that cgroup, so the victim is that PID.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../skip.h"
#include "harness.h"
#include "memory_cgroup.h"
#include "probes/oom_watch.h"

using namespace mws;
using namespace mws::test;
using namespace std::chrono;
namespace fs = std::filesystem;

TEST_CASE("oom watch: the OOM killer's victim is reported by PID before it is gone, and its exit as SIGKILL",
          "[oom][bpf]") {
  if (geteuid() != 0) MWS_SKIP("loading BPF programs and making cgroups need root");
  MemoryCgroup cg;
  if (!cg.error.empty()) MWS_SKIP(cg.error);

  const auto before = loaded_bpf_programs();
  const uint32_t last_id = before.empty() ? 0 : before.back().id;
  {
    auto watch = probes::OomWatch::attach();
    INFO((watch ? "" : watch.error().message));
    REQUIRE(watch);
    auto& w = **watch;

    // The child moves itself into the cgroup, makes itself the preferred
    // victim, and waits for our word before it allocates: its exit is
    // watched before it can end.
    SpawnOptions so;
    so.stdin_pipe = true;
    Child c = Child::spawn({"sh", "-c",
                            "echo $$ > \"$0/cgroup.procs\" && echo 1000 > /proc/self/oom_score_adj && read go && "
                            "exec tail /dev/zero",
                            cg.dir},
                           so);
    REQUIRE(w.watch_exit(c.pid()));
    REQUIRE(c.write_stdin("go\n"));

    std::vector<probes::ProcessEnd> ends;
    const auto deadline = steady_clock::now() + seconds(120);
    auto has_exit = [&] {
      for (const auto& e : ends)
        if (e.kind == probes::ProcessEnd::Kind::Exit && e.pid == c.pid()) return true;
      return false;
    };
    while (!has_exit() && steady_clock::now() < deadline) {
      auto n = w.poll(1000, [&](const probes::ProcessEnd& e) { ends.push_back(e); });
      REQUIRE(n);
    }
    const int status = c.wait(seconds(30));
    INFO("child status " << status << ", stderr: " << c.stderr_text());

    std::vector<probes::ProcessEnd> victims, exits;
    std::ostringstream seen;
    for (const auto& e : ends) seen << (e.kind == probes::ProcessEnd::Kind::OomVictim ? " oom:" : " exit:") << e.pid;
    INFO("events:" << seen.str());
    for (const auto& e : ends) {
      if (e.pid != c.pid()) continue;  // another process of the host
      (e.kind == probes::ProcessEnd::Kind::OomVictim ? victims : exits).push_back(e);
    }
    REQUIRE(victims.size() == 1);
    REQUIRE(exits.size() == 1);
    CHECK(status == 128 + SIGKILL);
    CHECK_FALSE(victims[0].pid_is_tid);  // this kernel's tracepoint passes the task
    CHECK(victims[0].tid == c.pid());
    CHECK(victims[0].comm == "tail");
    // Chosen before it ended: the mark comes before the exit.
    CHECK(victims[0].ts_ns < exits[0].ts_ns);
    CHECK(exits[0].killed_by_signal());
    CHECK(exits[0].signal() == SIGKILL);
    CHECK(w.dropped() == 0);
  }
  // Detached: none of its programs stays loaded (the kernel frees a
  // program after a grace period, not at the close of its last fd).
  auto ours_loaded = [&] {
    size_t n = 0;
    for (const auto& p : loaded_bpf_programs())
      if (p.id > last_id && (p.name == "on_mark_victim" || p.name == "on_process_exit")) n++;
    return n;
  };
  for (int i = 0; i < 200 && ours_loaded() > 0; i++) std::this_thread::sleep_for(milliseconds(50));
  CHECK(ours_loaded() == 0);
}

TEST_CASE("oom watch: an exit is reported once, with its status, and only for watched processes", "[oom][bpf]") {
  if (geteuid() != 0) MWS_SKIP("loading BPF programs needs root");
  auto watch = probes::OomWatch::attach();
  INFO((watch ? "" : watch.error().message));
  REQUIRE(watch);
  auto& w = **watch;

  SpawnOptions so;
  so.stdin_pipe = true;
  // A plain exit, a kill, and a process nobody watches.
  Child plain = Child::spawn({"sh", "-c", "read go; exit 3"}, so);
  Child killed = Child::spawn({"sleep", "600"});
  Child unwatched = Child::spawn({"sh", "-c", "read go; exit 0"}, so);
  REQUIRE(w.watch_exit(plain.pid()));
  REQUIRE(w.watch_exit(killed.pid()));
  REQUIRE(w.watch_exit(999999999));  // no such process: never reported, no harm
  w.unwatch_exit(999999999);
  REQUIRE(plain.write_stdin("go\n"));
  REQUIRE(unwatched.write_stdin("go\n"));
  REQUIRE(plain.wait(seconds(30)) == 3);
  REQUIRE(unwatched.wait(seconds(30)) == 0);
  killed.signal(SIGKILL);
  REQUIRE(killed.wait(seconds(30)) == 128 + SIGKILL);

  // Both exits happened before wait() returned: their events are in the
  // ring buffer already. One more poll would see any duplicate.
  std::vector<probes::ProcessEnd> exits;
  auto collect = [&](const probes::ProcessEnd& e) {
    if (e.kind == probes::ProcessEnd::Kind::Exit) exits.push_back(e);
  };
  const auto deadline = steady_clock::now() + seconds(30);
  while (exits.size() < 2 && steady_clock::now() < deadline) REQUIRE(w.poll(500, collect));
  REQUIRE(w.poll(200, collect));
  REQUIRE(exits.size() == 2);
  for (const auto& e : exits) {
    if (e.pid == plain.pid()) {
      CHECK_FALSE(e.killed_by_signal());
      CHECK(WIFEXITED(e.wait_status));
      CHECK(WEXITSTATUS(e.wait_status) == 3);
    } else {
      CHECK(e.pid == killed.pid());
      CHECK(e.killed_by_signal());
      CHECK(e.signal() == SIGKILL);
    }
  }
}
