// The live view (--interval) through a pipe and through a terminal, its
// pprof files (--pprof-dir), and the status line while recording until
// Ctrl-C on a terminal.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;

namespace {

size_t count(const std::string& text, const std::string& what);

// When to interrupt (SIGINT) a program run on a terminal: after a time, or
// once it has printed `needle` `times` times.
struct Interrupt {
  milliseconds after{0};
  std::string needle;
  size_t times = 0;
};

// Runs argv with stdout and stderr on a new pseudo-terminal (as in an SRE's
// shell); SIGINT as `interrupt` says, if at all. Returns all it printed.
std::string run_on_terminal(const std::vector<std::string>& argv, const Interrupt& interrupt = {}) {
  int master = -1;
  struct winsize ws {};
  ws.ws_row = 50;
  ws.ws_col = 160;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  std::string out;
  const auto started = steady_clock::now();
  bool interrupted = interrupt.after.count() == 0 && interrupt.times == 0;
  for (;;) {
    if (!interrupted && (interrupt.times > 0 ? count(out, interrupt.needle) >= interrupt.times
                                             : steady_clock::now() - started >= interrupt.after)) {
      kill(pid, SIGINT);
      interrupted = true;
    }
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the child closed the terminal
      out.append(buf, size_t(n));
    }
    REQUIRE(steady_clock::now() - started < seconds(90));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// The objects per request of main.Logging in each block of the live view,
// and the requests per second of each.
struct Block {
  double requests_per_s = -1, logging_per_request = -1;
};
std::vector<Block> blocks_of(const std::string& text) {
  std::vector<Block> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find("mwscope live:") != std::string::npos) out.emplace_back();
    if (out.empty()) continue;
    if (auto at = line.find("requests "); at != std::string::npos && line.find("events ") != std::string::npos) {
      std::string figure = line.substr(at + 9);  // "5,684/s"
      figure.erase(std::remove(figure.begin(), figure.end(), ','), figure.end());
      out.back().requests_per_s = std::stod(figure);
    }
    std::istringstream fields(line);
    std::string name, objects_s, bytes, unit, per_request;
    // "  main.Logging   17,053   1.0 MiB   3.00   832 B   +0 B"
    if (fields >> name >> objects_s >> bytes >> unit >> per_request && name == "main.Logging")
      out.back().logging_per_request = std::stod(per_request);
  }
  return out;
}

// Load on /work for the whole recording: running before the recording
// starts (the fixture has served some, by its own count) and until stop(),
// called once mwscope has exited, however long its attach took on a busy
// machine. loadgen's -duration is only a bound.
struct BackgroundLoad {
  Child child;
  explicit BackgroundLoad(int port)
      : child(Child::spawn({fixture("loadgen"), "-url", "http://127.0.0.1:" + std::to_string(port) + "/work", "-n",
                            "0", "-duration", "240s", "-c", "2"})) {
    bool serving = false;
    for (auto deadline = steady_clock::now() + seconds(30); !serving && steady_clock::now() < deadline;) {
      auto body = http_get(port, "/debug/allocs");
      serving = body && nlohmann::json::parse(*body).at("work_requests").get<uint64_t>() > 0;
      if (!serving) std::this_thread::sleep_for(milliseconds(50));
    }
    REQUIRE(serving);
  }
  // Ends the load; it must have run the whole recording long, without an error.
  void stop() {
    REQUIRE(child.running());
    child.signal(SIGINT);
    CHECK(child.wait(seconds(60)) == 0);
  }
};

}  // namespace

TEST_CASE("the live view through a pipe: one timestamped block per interval, each as the construction says",
          "[bpf][live]") {
  Server server = start_server("allocserver");
  BackgroundLoad load(server.port);
  // Interrupted once the third block is out, not after a fixed time (an
  // interval whose work outlasts it on a busy machine is merged into the
  // next): -d is only a bound.
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", "exact", "-d", "60",
                           "--interval", "1"});
  for (int block = 0; block < 3; block++) REQUIRE(mw.wait_stdout_line(" UTC ---", seconds(60)));
  mw.signal(SIGINT);
  const int status = mw.wait(seconds(60));
  load.stop();
  struct {
    int status;
    std::string out, err;
  } r{status, mw.stdout_text(), mw.stderr_text()};
  INFO(r.out.substr(0, 4000) << r.err);
  REQUIRE(r.status == 0);
  // One timestamped block per interval, the final report after them; a
  // fourth may have begun before the interrupt landed.
  const size_t stamped = count(r.out, " UTC ---\n");
  CHECK(stamped >= 3);
  CHECK(r.out.find("\x1b[") == std::string::npos);  // no terminal control into a pipe
  const auto blocks = blocks_of(r.out);
  REQUIRE(blocks.size() == stamped);
  for (const Block& b : blocks) {
    // Each interval on its own: the middleware's explicit allocations per
    // request (the fixture's construction: 3), the requests at the edges
    // of the interval aside (at most the 2 connections in flight).
    REQUIRE(b.requests_per_s >= 100);
    CHECK(b.logging_per_request == Approx(3).margin(0.05));
  }
  CHECK(r.out.find("heap allocation report") != std::string::npos);  // and the full report at the end
}

TEST_CASE("the live view on a terminal redraws in place, and its pprof files are each a whole profile so far",
          "[bpf][live][pprof]") {
  Server server = start_server("allocserver");
  BackgroundLoad load(server.port);
  const std::string dir = temp_path("pprof-dir");
  run({"rm", "-rf", dir});
  REQUIRE(mkdir(dir.c_str(), 0755) == 0);
  // Interrupted once the third block is out, not after a fixed time: an
  // interval whose work outlasts it on a busy machine is merged into the
  // next (the block says "the last 2.0 s"), so a fixed -d gives no fixed
  // number of blocks. -d is only a bound.
  const std::string clear = "\x1b[H\x1b[2J";  // home and clear, then the block
  const std::string out = run_on_terminal({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode",
                                           "exact", "-d", "60", "--interval", "1", "--pprof-dir", dir},
                                          Interrupt{milliseconds(0), "mwscope live:", 3});
  load.stop();
  INFO(out.substr(0, 3000));
  // Every block redrawn in place, one pprof file each (below); a fourth
  // may have begun before the interrupt landed.
  const size_t redraws = count(out, clear);
  CHECK(redraws >= 3);
  CHECK(out.find(" UTC ---") == std::string::npos);
  CHECK(blocks_of(out).size() == redraws);

  // One file per interval, named by the target and the time, never reused;
  // each holds everything since attach, so each total is at least the last.
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (std::string(e->d_name).rfind("mwscope-" + std::to_string(server.child.pid()) + "-", 0) == 0)
        files.push_back(dir + "/" + e->d_name);
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == redraws);
  int64_t last = 0;
  for (const auto& f : files) {
    const PprofRaw p = pprof_raw(f);
    const int64_t total = p.sum("alloc_objects/count");
    CHECK(total > last);  // the load went on: every interval added allocations
    last = total;
    CHECK(p.sum("alloc_objects/count", {{"middleware", "main.Logging"}}) > 0);
  }
}

TEST_CASE("recording until Ctrl-C on a terminal shows one status line, rewritten in place", "[bpf][live]") {
  Server server = start_server("allocserver");
  const std::string out =
      run_on_terminal({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--mode", "exact"},
                      // Ctrl-C once the status line has been written twice, however long the attach took.
                      Interrupt{milliseconds(0), "\rmwscope: recording ", 2});
  INFO(out.substr(0, 3000));
  CHECK(count(out, "\rmwscope: recording ") >= 2);  // each second, over the same line
  CHECK(out.find("Ctrl-C to stop") != std::string::npos);
  CHECK(out.find("dropped") != std::string::npos);
  CHECK(out.find("heap allocation report") != std::string::npos);  // Ctrl-C still gives the report
}
