// A recording of a million distinct stacks ends in a whole report: built in
// at most twice the memory the recording itself took, under an address-
// space limit, every output written. Out of memory is one line, never an
// abort. The fixture makes 2^20 stacks by construction (one allocation on
// each path through a binary tree of calls).
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;

namespace {

constexpr int kDepth = 20;  // 2^20 = 1,048,576 distinct stacks, the recording's stack limit

// VmHWM (peak resident set, KiB) of a live process; 0 once it is gone.
uint64_t peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  uint64_t kib = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> kib;
      return kib;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

// The elements of the top-level array `key` of a profile written by
// --json, one per line as write_json puts them, each parsed on its own: the
// whole document as one JSON tree would take gigabytes.
template <typename F>
size_t for_each_element(const std::string& path, const std::string& key, F&& f) {
  std::ifstream in(path);
  std::string line;
  const std::string open = "  \"" + key + "\": [";
  while (std::getline(in, line) && line != open) {
  }
  size_t n = 0;
  while (std::getline(in, line) && line.rfind("  ]", 0) != 0) {
    if (!line.empty() && line.back() == ',') line.pop_back();
    f(nlohmann::json::parse(line));
    n++;
  }
  return n;
}

}  // namespace

TEST_CASE("a million distinct stacks: the report takes at most twice the recording's memory, under an "
          "address-space limit",
          "[bpf][memory]") {
  SpawnOptions keep_stdin;
  keep_stdin.stdin_pipe = true;  // the fixture exits when its stdin closes
  Child target = Child::spawn({fixture("manystacks"), "-depth", std::to_string(kDepth)}, keep_stdin);
  REQUIRE(target.wait_stdout_line("ready", seconds(10)));

  const std::string json_path = temp_path("manystacks.json"), folded_path = temp_path("manystacks.folded");
  // 4 GiB of address space: the whole run needs about 1.2 GiB; before
  // frames were interned and outputs streamed, the report of this
  // recording needed some 24 GiB and died of std::bad_alloc.
  Child mw = Child::spawn({"prlimit", "--as=" + std::to_string(4ull << 30), "--", mwscope_binary(), "-p",
                           std::to_string(target.pid()), "--mode", "exact", "--no-goroutines", "--no-requests",
                           "--json", json_path, "--folded", folded_path});
  REQUIRE(mw.wait_stderr_line("recording", seconds(60)));
  target.signal(SIGUSR1);
  // The recording lasts until the fixture has made every allocation,
  // however long that takes on a busy machine: it is stopped (SIGINT) only
  // after "done". Events still in the ring buffer then are drained before
  // the detach (close_window, then drain), so none is cut off.
  REQUIRE(target.wait_stdout_line("done", seconds(240)));

  // The recording's peak, once mwscope has taken in what the ring buffer
  // held: its peak no longer grows over ten reads in a row (bounded wait).
  // A drain after the stop would only raise the whole run's peak below, so
  // stopping early can make the check below fail, never pass.
  uint64_t recording_kib = peak_rss_kib(mw.pid());
  for (int unchanged = 0, reads = 0; unchanged < 10 && reads < 1200; reads++) {
    std::this_thread::sleep_for(milliseconds(100));
    const uint64_t now = peak_rss_kib(mw.pid());
    unchanged = now == recording_kib ? unchanged + 1 : 0;
    recording_kib = std::max(recording_kib, now);
  }
  REQUIRE(recording_kib > 0);
  mw.signal(SIGINT);

  const int status = mw.wait(seconds(280));
  INFO("stderr: " << mw.stderr_text());
  REQUIRE(status == 0);
  // The peak of the whole run, report included, from the kernel: the
  // largest ru_maxrss of this test's reaped children, and mwscope is the
  // only one reaped so far.
  struct rusage usage {};
  REQUIRE(getrusage(RUSAGE_CHILDREN, &usage) == 0);
  const uint64_t run_kib = static_cast<uint64_t>(usage.ru_maxrss);
  INFO("recording peak " << recording_kib / 1024 << " MiB, whole run peak " << run_kib / 1024 << " MiB");
  CHECK(run_kib <= 2 * recording_kib);

  CHECK(mw.stderr_text().find("wrote profile to " + json_path) != std::string::npos);
  CHECK(mw.stderr_text().find("wrote folded stacks") != std::string::npos);

  // Every leaf allocation is a stack of its own, in the JSON and the folded
  // file alike; what was lost is counted.
  std::vector<std::string> functions;
  for_each_element(json_path, "frames", [&](const nlohmann::json& f) { functions.push_back(f.at("function")); });
  uint64_t leaf_stacks = 0, leaf_objects = 0;
  const size_t stacks = for_each_element(json_path, "stacks", [&](const nlohmann::json& s) {
    // The fixture's own allocation: new([4]uint64) in main.leaf (not the
    // runtime allocating for itself below it).
    const auto& ids = s.at("frames");
    if (ids.size() >= 2 && functions.at(ids[0].get<size_t>()) == "runtime.newobject" &&
        functions.at(ids[1].get<size_t>()) == "main.leaf") {
      leaf_stacks++;
      leaf_objects += s.at("objects").get<uint64_t>();
    }
  });
  // meta's counters, from the lines write_json gives them ("    \"key\": 12,").
  auto meta_number = [&](const std::string& key) -> uint64_t {
    std::ifstream in(json_path);
    std::string line;
    const std::string quoted = "\"" + key + "\": ";
    while (std::getline(in, line))
      if (auto at = line.find(quoted); at != std::string::npos) return std::stoull(line.substr(at + quoted.size()));
    FAIL("no " << key << " in " << json_path);
    return 0;
  };
  const uint64_t dropped = meta_number("dropped_events");
  // Every loss has a cause: the ring buffer was full, or a new stack came
  // past the 2^20 the recording keeps.
  CHECK(meta_number("dropped_ring_full") + meta_number("dropped_over_limit") == dropped);
  INFO(stacks << " stacks, " << leaf_stacks << " at main.leaf, " << dropped << " events dropped");
  const uint64_t made = uint64_t{1} << kDepth;  // main.leaf's allocations, by construction
  CHECK(leaf_stacks == leaf_objects);   // one allocation per stack, as built
  CHECK(leaf_objects <= made);          // none invented
  CHECK(leaf_objects + dropped >= made);  // every allocation counted or counted as lost
  // And lost only where the limit forces it: the recording keeps 2^20
  // stacks (its limit), and the stacks that are not main.leaf's (the
  // runtime's own, the fixture's start-up) take places a leaf stack would
  // have had. The ring buffer must not lose any (it is sized for this).
  CHECK(meta_number("dropped_ring_full") == 0);
  CHECK(made - leaf_objects <= stacks - leaf_stacks);
  uint64_t folded_leaf_lines = 0;
  {
    std::ifstream in(folded_path);
    std::string line;
    while (std::getline(in, line)) folded_leaf_lines += line.find(";main.leaf;runtime.newobject ") != std::string::npos;
  }
  CHECK(folded_leaf_lines == leaf_stacks);

  // Re-rendering that profile with too little address space to read it is
  // one line and exit 1, not an abort.
  auto r = run({"prlimit", "--as=" + std::to_string(256ull << 20), "--", mwscope_binary(), "report", json_path},
               seconds(120));
  INFO("report stderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("out of memory") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  std::remove(json_path.c_str());
  std::remove(folded_path.c_str());
}
