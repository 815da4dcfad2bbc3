// bench_reachability PID [REPEAT]: runs the "unreachable" evidence
// (target/go_reachability.h) on a running Go process, as the integrator
// would, and prints what it read, how fast, and our own peak memory:
//   candidates=21 unreachable=10 bytes=... seconds=... MiB/s=... maxrss_mib=...
// The setup (DWARF, function index; prepare_reachability) is timed apart
// from the analysis (both looks).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "target/go_goroutines.h"
#include "target/go_heap_layout.h"
#include "target/go_reachability.h"
#include "target/process.h"
#include "target/remote_memory.h"

using namespace mws::target;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_reachability PID [REPEAT]\n");
    return 2;
  }
  const pid_t pid = std::atoi(argv[1]);
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
  auto proc = inspect_process(pid);
  if (!proc) return std::fprintf(stderr, "%s\n", proc.error().message.c_str()), 1;
  auto exe = ElfFile::open(proc->exe_path);
  if (!exe) return std::fprintf(stderr, "%s\n", exe.error().message.c_str()), 1;
  auto bi = read_go_buildinfo(**exe);
  auto bias = load_bias(*proc, **exe);
  if (!bi || !bias) return std::fprintf(stderr, "not a Go process\n"), 1;
  auto t0 = std::chrono::steady_clock::now();
  auto setup = prepare_reachability(**exe, bi->version);
  auto t1 = std::chrono::steady_clock::now();
  if (!setup) return std::fprintf(stderr, "%s\n", setup.error().message.c_str()), 1;
  if (!setup->allgs_vaddr) return std::fprintf(stderr, "runtime.allgs not found\n"), 1;
  std::printf("%s: setup (offsets %s, layout %s, function index) %.3f s\n", bi->version.c_str(),
              setup->offsets.source.c_str(), setup->layout.source.c_str(),
              std::chrono::duration<double>(t1 - t0).count());
  const GoRuntimeOffsets* off = &setup->offsets;
  RemoteMemory mem(pid);
  for (int i = 0; i < repeat; i++) {
    auto gs = read_live_goroutines(mem, setup->allgs_vaddr + uint64_t(*bias), *off);
    if (!gs) return std::fprintf(stderr, "%s\n", gs.error().message.c_str()), 1;
    std::vector<BlockedGoroutine> in;
    for (const auto& g : *gs) {
      uint64_t st[2] = {};
      mem.read(g.g_addr, st, sizeof(st));
      in.push_back({g.g_addr, g.goid, st[0], st[1], g.state.status, g.state.waitreason});
    }
    const ReachabilityVerdicts r = find_unreachable_waits(mem, pid, *setup, uint64_t(*bias), in, ReachabilityLimits{});
    const ReachabilityVerdicts* v = &r;
    size_t n = 0;
    std::string ids;
    for (size_t k = 0; k < v->unreachable.size(); k++)
      if (v->unreachable[k]) {
        n++;
        ids += " " + std::to_string(in[k].goid);
      }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("goroutines=%zu candidates=%llu unreachable=%zu bytes=%llu seconds=%.3f MiB/s=%.0f maxrss_mib=%ld%s%s%s%s\n",
                in.size(), (unsigned long long)v->candidates, n, (unsigned long long)v->bytes_scanned, v->seconds,
                v->seconds > 0 ? double(v->bytes_scanned) / v->seconds / (1 << 20) : 0.0, ru.ru_maxrss / 1024,
                v->cut_short ? " cut: " : "", v->cut_reason.c_str(), n ? " goids:" : "", ids.c_str());
  }
  return 0;
}
