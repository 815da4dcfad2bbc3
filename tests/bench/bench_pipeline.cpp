// bench_pipeline: mwscope's userspace pipeline alone, on one core, without
// a target: events as the BPF programs write them (exact-mode allocations
// and goroutine spawns and exits) are decoded and aggregated, then the
// recording is interpreted into a Profile (symbolized against the real
// binary). Stacks are return addresses inside the binary's own functions,
// STACKS distinct ones of DEPTH frames, replayed in a fixed shuffled order.
//
//   bench_pipeline GO_BINARY [EVENTS=3000000] [STACKS=2000] [DEPTH=24] [GOROUTINES=100000]
//
// Prints events/s for decode + aggregate (target: >= 3 million on one
// core), the time to build the Profile, and the memory the recording holds
// per distinct stack and per live tracked goroutine (glibc's heap in use,
// before and after).
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "collect/event_decoder.h"
#include "collect/raw_recording.h"
#include "interpret/build_profile.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"

using Clock = std::chrono::steady_clock;
using namespace mws;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// glibc heap in use, its mmapped blocks (big tables) included.
size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// A return address in the middle of each function long enough to hold a call.
std::vector<uint64_t> return_addresses(const target::ElfFile& exe, const std::string& version) {
  target::GoFunctionIndex index(exe, version, exe.path());
  std::vector<uint64_t> out;
  index.for_each_function([&](std::string_view, uint64_t entry, uint64_t size) {
    if (size >= 16) out.push_back(entry + size / 2);
  });
  return out;
}

std::vector<std::vector<uint64_t>> make_stacks(const std::vector<uint64_t>& pcs, size_t n, size_t depth,
                                               std::mt19937_64& rng) {
  std::vector<std::vector<uint64_t>> stacks(n);
  std::uniform_int_distribution<size_t> pick(0, pcs.size() - 1);
  // Stacks share their outer frames, as a server's do (one accept loop, a
  // few handlers): the outer half comes from a few roots.
  std::vector<std::vector<uint64_t>> roots(8);
  for (auto& r : roots)
    for (size_t i = 0; i < depth / 2; i++) r.push_back(pcs[pick(rng)]);
  for (size_t s = 0; s < n; s++) {
    for (size_t i = 0; i < depth - depth / 2; i++) stacks[s].push_back(pcs[pick(rng)]);
    const auto& root = roots[s % roots.size()];
    stacks[s].insert(stacks[s].end(), root.begin(), root.end());
  }
  return stacks;
}

mws_alloc_event alloc_event(const std::vector<uint64_t>& stack, uint64_t size, uint64_t type) {
  mws_alloc_event e{};
  e.hdr.kind = MWS_EV_ALLOC;
  e.size = size;
  e.type_addr = type;
  e.caller = stack[0];
  e.stack_len = static_cast<uint32_t>(std::min<size_t>(stack.size(), MWS_MAX_STACK_DEPTH));
  e.stack[0] = 0;  // the probed instruction: not part of the decoded stack
  for (size_t i = 1; i < e.stack_len; i++) e.stack[i] = stack[i];
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GO_BINARY [EVENTS=3000000] [STACKS=2000] [DEPTH=24] [GOROUTINES=100000]\n",
                 argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const size_t events = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 3'000'000;
  const size_t n_stacks = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000;
  const size_t depth = std::min<size_t>(argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 24, MWS_MAX_STACK_DEPTH);
  const size_t goroutines = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 100'000;

  auto exe = target::ElfFile::open(path);
  if (!exe) {
    std::fprintf(stderr, "bench_pipeline: %s\n", exe.error().message.c_str());
    return 1;
  }
  auto info = target::read_go_buildinfo(**exe);
  const std::string version = info ? info->version : "go1.19";
  std::mt19937_64 rng(42);
  const auto pcs = return_addresses(**exe, version);
  const auto stacks = make_stacks(pcs, n_stacks, depth, rng);
  std::vector<mws_alloc_event> records;
  for (size_t s = 0; s < stacks.size(); s++) records.push_back(alloc_event(stacks[s], 16 << (s % 6), 0x500000 + s % 17));
  std::vector<uint32_t> order(events);
  std::uniform_int_distribution<uint32_t> which(0, uint32_t(records.size() - 1));
  for (auto& o : order) o = which(rng);

  // 1. Decode + aggregate, exact-mode allocation events.
  collect::RawRecording raw;
  raw.process.pid = 1;
  raw.process.exe_display = raw.process.exe_path = path;
  raw.go_version = version;
  raw.mode = "exact";
  collect::EventDecoder decoder(raw.allocs, raw.samples, raw.tasks, raw.routes);
  const size_t heap_before = heap_in_use();
  for (const auto& r : records) decoder.decode(&r, sizeof(r));  // every stack once: its memory
  const size_t heap_stacks = heap_in_use() - heap_before;
  const auto t0 = Clock::now();
  for (uint32_t o : order) decoder.decode(&records[o], sizeof(records[o]));
  const double decode_s = seconds_since(t0);
  const double rate = double(events) / decode_s;
  std::printf("decode + aggregate: %zu allocation events (%zu distinct stacks of %zu frames) in %.3f s: %.2f million "
              "events/s on one core (target >= 3)\n",
              events, raw.allocs.stack_count(), depth, decode_s, rate / 1e6);
  std::printf("memory per distinct stack: %.0f B (raw return addresses and counts)\n",
              double(heap_stacks) / double(raw.allocs.stack_count()));

  // 2. Goroutines: spawn events with a few creation stacks, then half exit.
  collect::RawRecording tasks_raw;
  collect::EventDecoder task_decoder(tasks_raw.allocs, tasks_raw.samples, tasks_raw.tasks, tasks_raw.routes);
  mws_task_spawn_event spawn{};
  spawn.hdr.kind = MWS_EV_TASK_SPAWN;
  mws_task_exits_event exit_event{};
  exit_event.hdr.kind = MWS_EV_TASK_EXITS;
  exit_event.batch.count = 1;
  const size_t heap_tasks_before = heap_in_use();
  const auto t1 = Clock::now();
  for (size_t g = 0; g < goroutines; g++) {
    const auto& s = stacks[g % 16];
    spawn.goid = g + 1;
    spawn.g_addr = 0xc000000000 + g * 0x200;
    spawn.startpc = s[0];
    spawn.gopc = s[1];
    spawn.caller = s[0];
    spawn.stack_len = uint32_t(s.size());
    for (size_t i = 1; i < s.size(); i++) spawn.stack[i] = s[i];
    task_decoder.decode(&spawn, sizeof(spawn));
  }
  const double spawn_s = seconds_since(t1);
  const size_t heap_tasks = heap_in_use() - heap_tasks_before;
  for (size_t g = 0; g < goroutines; g += 2) {
    exit_event.batch.exit[0] = {0xc000000000 + g * 0x200, 1};
    task_decoder.decode(&exit_event, sizeof(exit_event));
  }
  std::printf("goroutines: %zu spawn events in %.3f s (%.2f million/s); memory per live tracked goroutine: %.0f B\n",
              goroutines, spawn_s, double(goroutines) / spawn_s / 1e6, double(heap_tasks) / double(goroutines));

  // 3. The Profile: symbolize every distinct stack against the binary.
  const auto text = (*exe)->section(".text");
  if (text) raw.process.mappings.push_back({text->addr, text->addr + text->size, text->offset, true, path});
  interpret::InterpretOptions iopt;
  const auto t2 = Clock::now();
  Profile profile = interpret::build_profile(std::move(raw), **exe, iopt);
  const double build_s = seconds_since(t2);
  std::printf("profile: %zu stacks, %zu frames built in %.3f s (%.1f us per distinct stack)\n", profile.stacks.size(),
              profile.frames.size(), build_s, build_s * 1e6 / double(std::max<size_t>(profile.stacks.size(), 1)));
  std::printf("verdict: %.2f million events/s on one core: %s\n", rate / 1e6, rate >= 3e6 ? "PASS" : "FAIL");
  return 0;
}
