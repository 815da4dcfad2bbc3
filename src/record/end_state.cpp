#include "record/end_state.h"

#include <chrono>

#include "target/go_functions.h"
#include "target/go_reachability.h"
#include "target/remote_memory.h"

namespace mws::record {

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Walks while probes are attached end at the first Ctrl-C; those after
// detaching, at the second.
target::WalkLimits walk_limits(const std::atomic<bool>* stop) {
  target::WalkLimits limits;
  limits.stop = stop;
  return limits;
}

Result<std::vector<target::GoroutineSnapshot>> read_goroutines(const PreparedTarget& prepared, bool stacks,
                                                               const target::WalkLimits& limits,
                                                               const std::function<void(const std::string&)>& notice) {
  const probes::GoTarget& t = prepared.plan;
  const target::ProcessInfo& proc = prepared.proc;
  const target::ElfFile& exe = *prepared.exe;
  if (!t.goroutines_unavailable.empty()) return Error{t.goroutines_unavailable};
  if (!t.allgs_vaddr) return Error{"runtime.allgs not found"};
  auto addr = runtime_address(proc, exe, *t.allgs_vaddr);
  if (!addr) return Error{"cannot locate runtime.allgs in memory"};
  std::string cut;
  auto gs = target::read_live_goroutines(target::RemoteMemory(proc.pid), *addr, t.offsets, stacks, limits, &cut);
  if (gs && !cut.empty() && notice) notice("warning: " + cut);
  return gs;
}

Result<target::HeapProfileReading> read_heap(const PreparedTarget& prepared, const target::WalkLimits& limits,
                                             const std::function<void(const std::string&)>& notice) {
  const probes::GoTarget& t = prepared.plan;
  const target::ProcessInfo& proc = prepared.proc;
  const target::ElfFile& exe = *prepared.exe;
  if (!t.heap_unavailable.empty()) return Error{t.heap_unavailable};
  auto facts = target::go_function_facts(t.build.version);
  if (!facts) return facts.error();
  auto buckets = runtime_address(proc, exe, t.heap_vars->mbuckets);
  auto cycle = runtime_address(proc, exe, t.heap_vars->mprof_cycle);
  auto rate = runtime_address(proc, exe, *t.mem_profile_rate_vaddr);
  if (!buckets || !cycle || !rate) return Error{"cannot locate runtime.mbuckets in memory"};
  auto heap = target::read_heap_profile(target::RemoteMemory(proc.pid), {*buckets, *cycle, *rate}, *facts,
                                       1u << 22, limits);
  if (heap && !heap->cut.empty() && notice) notice("warning: " + heap->cut);
  return heap;
}

namespace {

// Which of the goroutines read at the end wait on what nothing outside the
// blocked goroutines references (target/go_reachability.h), into
// raw.wait_reach; the target runs meanwhile. Cut short, the waits it did
// not prove are undecided (suspect, never leaked).
void scan_reachability(collect::RawRecording& raw, const PreparedTarget& t, const RecordOptions& opt,
                       const std::atomic<bool>* stop) {
  ReachabilityScan& scan = raw.reachability;
  if (opt.reach_seconds <= 0) {
    scan.problem = "turned off (--reach-seconds 0)";
    return;
  }
  if (!t.reach_setup) t.reach_setup = target::prepare_reachability(*t.exe, t.plan.build.version);
  if (!*t.reach_setup) {
    scan.problem = t.reach_setup->error().message;
    return;
  }
  auto bias = target::load_bias(t.proc, *t.exe);
  if (!bias) {
    scan.problem = "cannot locate the executable in memory";
    return;
  }
  std::vector<target::BlockedGoroutine> gs;
  gs.reserve(raw.goroutines_at_end.size());
  for (const auto& g : raw.goroutines_at_end)
    gs.push_back({g.g_addr, g.goid, g.stack_lo, g.stack_hi, g.state.status, g.state.waitreason});
  // The same waits as at the last whole scan, not long ago: its verdicts stand.
  decltype(PreparedTarget::ReachCache::waits) waits;
  for (const auto& g : gs)
    if (target::may_be_reachability_candidate(**t.reach_setup, g.status, g.waitreason))
      waits.emplace_back(g.goid, g.status, g.waitreason);
  const auto now = std::chrono::steady_clock::now();
  if (opt.reach_reuse_s > 0 && t.last_reach && t.last_reach->waits == waits &&
      std::chrono::duration<double>(now - t.last_reach->when).count() < opt.reach_reuse_s) {
    raw.wait_reach = t.last_reach->verdicts;
    scan = t.last_reach->scan;
    return;
  }
  const target::ReachabilityVerdicts v = target::find_unreachable_waits(
      target::RemoteMemory(t.proc.pid), t.proc.pid, **t.reach_setup, uint64_t(*bias), gs,
      {opt.reach_seconds, opt.reach_mib << 20, stop});
  scan.ran = true;
  scan.cut_short = v.cut_short;
  scan.problem = v.cut_reason;
  scan.candidates = v.candidates;
  scan.bytes_scanned = v.bytes_scanned;
  scan.seconds = v.seconds;
  for (size_t i = 0; i < gs.size() && i < v.unreachable.size(); i++) {
    collect::WaitReach r = collect::WaitReach::kReachable;
    if (v.unreachable[i]) {
      r = collect::WaitReach::kUnreachable;
      scan.unreachable++;
    } else if (v.cut_short && target::go_status_is_waiting(gs[i].status)) {
      r = collect::WaitReach::kUndecided;
    }
    raw.wait_reach[gs[i].goid] = r;
  }
  if (opt.reach_reuse_s > 0 && !scan.cut_short)
    t.last_reach = PreparedTarget::ReachCache{std::move(waits), raw.wait_reach, scan, now};
}

}  // namespace

void read_end_state(collect::RawRecording& raw, const PreparedTarget& t, const RecordOptions& opt,
                    const target::WalkLimits& limits) {
  const auto& notice = opt.on_notice;
  if (raw.heap_at_start) {
    if (auto heap = read_heap(t, limits, notice))
      raw.heap_at_end = std::move(*heap);
    else
      raw.heap_problem = heap.error().message + " (at the end)";
    if (!raw.heap_at_end) raw.heap_at_start.reset();
  }
  if (raw.goroutines_problem.empty()) {
    raw.goroutines_read_ns = clock_ns(CLOCK_MONOTONIC);
    const auto started = std::chrono::steady_clock::now();
    if (auto gs = read_goroutines(t, true, limits, notice)) {
      raw.goroutines_read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      raw.goroutines_at_end = std::move(*gs);
      raw.goroutines_read = true;
      scan_reachability(raw, t, opt, limits.stop);
    } else {
      raw.goroutines_problem = gs.error().message + " (at the end)";
    }
  }
}
}  // namespace mws::record
