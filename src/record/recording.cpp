#include "record/recording.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "collect/event_decoder.h"
#include "collect/raw_recording.h"
#include "collect/ring_consumer.h"
#include "interpret/build_profile.h"
#include "collect/c_heap_decoder.h"
#include "probes/c_heap_plan.h"
#include "probes/c_heap_probes.h"
#include "probes/go_probe_plan.h"
#include "probes/go_probes.h"
#include "record/thread_recorder.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_functions.h"
#include "target/go_goroutines.h"
#include "target/go_reachability.h"
#include "target/privileges.h"
#include "target/process.h"
#include "target/remote_memory.h"
#include "target/walk_limits.h"
#include "util/terminal_text.h"

namespace mws::record {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Runtime address of a symbol of the executable.
std::optional<uint64_t> runtime_address(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                        uint64_t link_addr) {
  auto bias = target::load_bias(proc, exe);
  if (!bias) return std::nullopt;
  return link_addr + static_cast<uint64_t>(*bias);
}

// Every goroutine of the target, read from its memory (no probe).
// A walk cut short by its limits says so in one line (target/walk_limits.h).
Result<std::vector<target::GoroutineSnapshot>> read_goroutines(const target::ProcessInfo& proc,
                                                               const target::ElfFile& exe, const probes::GoTarget& t,
                                                               bool stacks, const target::WalkLimits& limits,
                                                               const std::function<void(const std::string&)>& notice) {
  if (!t.goroutines_unavailable.empty()) return Error{t.goroutines_unavailable};
  if (!t.allgs_vaddr) return Error{"runtime.allgs not found"};
  auto addr = runtime_address(proc, exe, *t.allgs_vaddr);
  if (!addr) return Error{"cannot locate runtime.allgs in memory"};
  std::string cut;
  auto gs = target::read_live_goroutines(target::RemoteMemory(proc.pid), *addr, t.offsets, stacks, limits, &cut);
  if (gs && !cut.empty() && notice) notice("warning: " + cut);
  return gs;
}

// The runtime's memory profile, read from the target's memory (no probe).
Result<target::HeapProfileReading> read_heap(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                             const probes::GoTarget& t, const target::WalkLimits& limits,
                                             const std::function<void(const std::string&)>& notice) {
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

// Walks while probes are attached end at the first Ctrl-C; those after
// detaching, at the second.
target::WalkLimits walk_limits(const std::atomic<bool>* stop) {
  target::WalkLimits limits;
  limits.stop = stop;
  return limits;
}

// Sampled mode rides runtime.MemProfileRate: read it (and set it, when
// asked) before attaching. Returns the rate in force.
// A write goes only to the process inspected (`bound`, held since), only
// to the 8-byte word of runtime.MemProfileRate in a writable section.
Result<uint64_t> prepare_sample_rate(const RecordOptions& opt, const target::ProcessInfo& proc,
                                     const target::ElfFile& exe, const probes::GoTarget& t, const std::string& what,
                                     const target::BoundProcess* bound) {
  auto addr = runtime_address(proc, exe, *t.mem_profile_rate_vaddr);
  if (!addr) return Error{what + ": cannot locate runtime.MemProfileRate in memory; try --mode exact"};
  target::RemoteMemory mem(opt.pid);
  if (opt.go_sample_rate > 0) {
    const int64_t rate = static_cast<int64_t>(opt.go_sample_rate);
    if (!bound) return Error{what + ": --go-sample-rate: the process is not held"};
    if (auto st = target::check_mem_profile_rate_word(exe, *t.mem_profile_rate_vaddr); !st)
      return Error{what + ": --go-sample-rate: " + st.error().message};
    if (auto st = bound->write_word(*addr, rate); !st)
      return Error{what + ": cannot write runtime.MemProfileRate: " + st.error().message};
    if (opt.on_notice)
      opt.on_notice(fmt::format("warning: wrote runtime.MemProfileRate = {} into {} (--go-sample-rate); it stays "
                                "so after mwscope exits",
                                rate, what));
  }
  auto rate = mem.read<int64_t>(*addr);
  if (!rate) return Error{what + ": cannot read runtime.MemProfileRate (" + std::strerror(errno) + ")"};
  return *rate > 0 ? static_cast<uint64_t>(*rate) : 0;
}

// The heap sampler's probes, all of them: none fires while the sampler is off.
void drop_sampler_probes(probes::GoProbePlan& plan) {
  plan.sample_alloc.clear();
  plan.sample_bucket.clear();
  plan.sample_free.clear();
  plan.tiny_refill.clear();
  plan.tiny_release_all.clear();
}

// Why sampled mode records no allocation in a target whose sampler is off.
// The rest (goroutines, the heap profile's state, requests) is still worth
// the recording: an SRE chasing a goroutine leak in a server built without
// net/http/pprof must not be turned away.
std::string sampler_off_reason() {
  return "the target's runtime.MemProfileRate is 0, so its Go runtime samples no allocation (Go turns sampling off "
         "in programs that never call runtime.MemProfile, e.g. without net/http/pprof); use --mode exact, or "
         "--go-sample-rate 524288 to turn sampling on (writes into the process)";
}

// The goroutine exits still in BPF's per-CPU batches (bpf/events.h), after
// every one the ring delivered.
void take_pending_exits(collect::RawRecording& raw, const probes::GoProbes& probes) {
  if (!raw.tasks_tracked) return;
  for (const auto& x : probes.pending_exits()) raw.tasks.on_exit(x.g_addr, x.ts_ns);
}

// What the BPF maps and the decoder counted so far, into the recording.
void take_counters(collect::RawRecording& raw, probes::GoProbes& probes, const collect::EventDecoder& decoder) {
  const auto bpf = probes.read_counters();
  const auto& decoded = decoder.stats();
  raw.requests = bpf.requests;
  raw.tiny_allocs = bpf.tiny_allocs;
  raw.task_read_errors = bpf.task_read_errors;
  raw.spawn_ctx_lost = bpf.spawn_ctx_lost + raw.spawn_ctx_seed_lost;
  raw.events = raw.allocs.events() + raw.samples.events() + raw.tasks.spawned() + raw.tasks.ended() +
               raw.tasks.preexisting_ended() + raw.tasks.unknown_exits();
  raw.dropped_ring_full = bpf.ringbuf_drops;
  raw.dropped_over_limit = raw.allocs.dropped() + raw.samples.dropped() + raw.tasks.dropped();
  raw.dropped_events = raw.dropped_ring_full + raw.dropped_over_limit + decoded.malformed + bpf.task_read_errors;
  // A stack hash sent with two stacks merged their counts (never seen).
  raw.stack_errors = bpf.stack_errors + decoded.missing_caller + raw.allocs.hash_collisions();
  raw.truncated_stacks = decoded.truncated_stacks;
}

void take_c_heap_counters(collect::RawRecording& raw, const probes::CHeapProbes& probes,
                          const collect::CHeapDecoder& decoder) {
  const auto c = probes.read_counters();
  raw.c_heap_dropped_ring_full = c.ringbuf_drops;
  raw.c_heap_unmatched_returns = c.unmatched_returns;
  raw.c_heap_malformed = decoder.malformed();
}

// Exact mode: what the kernel counted per (stack hash, type), added to the
// stacks the ring buffer delivered (bpf/events.h, alloc_counts).
void merge_kernel_counts(collect::RawRecording& raw, const probes::GoProbes& probes) {
  probes.for_each_alloc_count([&](const mws_alloc_key& k, uint64_t objects, uint64_t bytes) {
    raw.allocs.add_hashed_counts(k.stack_hash, k.type_addr, objects, bytes, k.spawn_ctx);
  });
}

interpret::InterpretOptions interpret_options(const RecordOptions& opt) {
  interpret::InterpretOptions iopt;
  iopt.leak_age_s = opt.leak_age_s;
  iopt.on_notice = opt.on_notice;
  return iopt;
}

// The target, inspected and planned for, before anything attaches.
struct PreparedTarget {
  target::ProcessInfo proc;
  std::unique_ptr<target::ElfFile> exe;
  probes::GoTarget plan;
  uint64_t sample_rate = 0;  // sampled mode: runtime.MemProfileRate in force
  std::string allocations_unavailable;  // why no allocation probe is attached, when none is
  std::string what;          // "process 42 (/srv/api)", for messages
  bool is_go = true;
  std::optional<probes::CHeapPlan> c_heap;  // --c-heap
  // --go-sample-rate: the process as inspected, held for the one write.
  std::optional<target::BoundProcess> bound;
  // What the reachability scan needs of the binary: found at the first
  // scan (most of a second on a large binary), kept for the next.
  mutable std::optional<Result<target::ReachabilitySetup>> reach_setup;
};

// --c-heap: the libc allocator's probes, and in a Go target how BPF finds
// the goroutine behind a C allocation (a warning when it cannot).
Status prepare_c_heap(const RecordOptions& opt, PreparedTarget& t) {
  auto plan = probes::plan_c_heap(t.proc, t.what);
  if (!plan) return plan.error();
  if (!t.is_go) {
    plan->cgo.walk_c_frames = 1;
  } else if (auto bias = target::load_bias(t.proc, *t.exe); !bias) {
    plan->go_stacks_unavailable = "the executable's load address is unknown";
  } else if (auto cgo = probes::plan_cgo_context(*t.exe, t.plan.build.version, t.plan.offsets, *bias)) {
    plan->cgo = *cgo;
  } else {
    plan->go_stacks_unavailable = cgo.error().message;
  }
  if (!plan->go_stacks_unavailable.empty() && opt.on_notice)
    opt.on_notice("warning: C allocations of " + t.what + " will not be charged to Go code: " +
                  plan->go_stacks_unavailable);
  t.c_heap = std::move(*plan);
  return Ok{};
}

// The one-line summary of what was attached, for RecordOptions::on_attached.
std::string attached_line(const PreparedTarget& prepared, uint32_t probes_attached) {
  const probes::GoTarget& t = prepared.plan;
  const std::string& what = prepared.what;
  const uint64_t sample_rate = prepared.sample_rate;
  std::vector<std::string> parts;
  if (!t.plan.alloc.empty()) {
    const auto& a = t.plan.alloc.front();  // runtime.mallocgc
    std::string more = t.plan.alloc.size() > 1
                           ? fmt::format(" and {} size-specialised allocators", t.plan.alloc.size() - 1)
                           : "";
    parts.push_back(fmt::format("allocations: {} at {:#x} ({}){}", a.symbol, a.vaddr, a.placement, more));
  }
  if (!t.plan.sample_alloc.empty())
    parts.push_back(fmt::format("sampled allocations: runtime.mProf_Malloc, setprofilebucket, mProf_Free"
                                "{} (MemProfileRate {} B)",
                                t.plan.tiny_refill.empty() ? ""
                                                           : ", (*mcache).refill and releaseAll for the "
                                                             "tiny-allocation count",
                                sample_rate));
  if (t.plan.alloc.empty() && t.plan.sample_alloc.empty() && prepared.is_go) parts.push_back("no allocation probe");
  if (prepared.c_heap)
    parts.push_back(fmt::format("C heap: {} allocator functions and free in {}{}", prepared.c_heap->allocs.size(),
                                prepared.c_heap->libc_display,
                                prepared.c_heap->cgo.tls_g_offset ? ", with the calling goroutine's Go stack" : ""));
  if (t.plan.tracks_goroutines())
    parts.push_back(fmt::format("goroutine spawn ({}{}) and exit ({}), g offsets from {}",
                                !t.plan.spawn.empty()
                                    ? "newproc's CALL runqput"
                                    : fmt::format("{} RET of runtime.newproc1", t.plan.spawn_newproc1_ret.size()),
                                t.plan.spawn_coro.empty() ? "" : ", RET of runtime.newcoro",
                                t.plan.exit_gdestroy.empty() ? "runtime.goexit1" : "runtime.gdestroy",
                                t.offsets.source));
  return fmt::format("attached {} probe(s) to {} ({}): {}", probes_attached, what,
                     prepared.is_go ? t.build.version : "not Go", fmt::join(parts, "; "));
}

// Every check that can fail before attaching: options, privileges, the
// process, its binary, where each probe goes, the sample rate.
Result<PreparedTarget> prepare(const RecordOptions& opt) {
  if (opt.mode != "exact" && opt.mode != "sampled")
    return Error{"unknown mode '" + opt.mode + "': use --mode sampled or --mode exact"};
  if (!target::process_exists(opt.pid))
    return Error{fmt::format("no process with PID {} (is it running, and in this PID namespace?)", opt.pid)};
  if (auto st = target::check_bpf_privileges(); !st) return st.error();
  if (!opt.track_allocations && !opt.track_goroutines && !opt.track_c_heap && !opt.track_threads)
    return Error{"nothing to record: --no-allocs and --no-goroutines together turn every probe off"};
  PreparedTarget t;
  auto proc = target::inspect_process(opt.pid);
  if (!proc) return proc.error();
  t.proc = std::move(*proc);
  t.what = fmt::format("process {} ({})", opt.pid, terminal_safe(t.proc.exe_display));  // the target named it
  // Opened once, from /proc/PID/exe (exactly the file it runs): the ELF
  // reader, DWARF and the uprobes all use this open file.
  auto exe = target::ElfFile::open_process_exe(opt.pid);
  if (!exe) return Error{t.what + ": " + exe.error().message};
  t.exe = std::move(*exe);
  if (opt.go_sample_rate > 0) {
    auto bound = target::BoundProcess::bind(opt.pid, t.exe->fd());
    if (!bound) return Error{t.what + ": --go-sample-rate: " + bound.error().message};
    t.bound.emplace(std::move(*bound));
  }

  probes::PlanRequest req;
  req.allocations = !opt.track_allocations   ? probes::AllocationProbes::None
                    : opt.mode == "sampled" ? probes::AllocationProbes::Sampled
                                            : probes::AllocationProbes::Exact;
  req.tasks = opt.track_goroutines;
  req.requests = opt.count_requests;
  req.stop = opt.stop;
  // A C or C++ process has only its native side to show.
  t.is_go = !(opt.track_c_heap || opt.track_threads) || probes::is_go_program(*t.exe);
  if (!t.is_go)
    if (auto st = check_native_target(opt, t.what); !st) return st.error();
  if (t.is_go) {
    auto plan = probes::plan_go_probes(*t.exe, t.what, req);
    if (!plan) return plan.error();
    t.plan = std::move(*plan);
  } else {
    t.plan = probes::not_go_target();
  }
  // Reading a big (or hostile) binary takes a while: a Ctrl-C meanwhile
  // ends here, before anything is written or attached.
  if (opt.stop && opt.stop->load()) return Error{"interrupted before anything was attached"};
  if (!opt.track_allocations) t.allocations_unavailable = "not requested (--no-allocs)";
  if (!t.is_go) t.allocations_unavailable = "not a Go program";
  if (opt.track_c_heap)
    if (auto st = prepare_c_heap(opt, t); !st) return st.error();
  if (!t.plan.plan.sample_alloc.empty()) {
    auto rate = prepare_sample_rate(opt, t.proc, *t.exe, t.plan, t.what, t.bound ? &*t.bound : nullptr);
    if (!rate) return rate.error();
    t.sample_rate = *rate;
    if (t.sample_rate == 0) {  // the sampler's probes would never fire: attach none of them
      drop_sampler_probes(t.plan.plan);
      t.allocations_unavailable = sampler_off_reason();
      if (opt.on_notice)
        opt.on_notice("warning: no allocation will be recorded from " + t.what + ": " + t.allocations_unavailable +
                      ". Goroutines are still read from its memory");
    }
  }
  const auto& p = t.plan.plan;
  if (p.alloc.empty() && p.sample_alloc.empty() && !p.tracks_goroutines() && p.requests.empty() &&
      !t.plan.goroutines_unavailable.empty() && !t.c_heap && !opt.track_threads)
    return Error{"nothing to record from " + t.what + ": no probe applies (allocations: " +
                 t.allocations_unavailable + "; goroutine tracking: " + t.plan.tasks_unavailable +
                 ") and its goroutines cannot be read (" + t.plan.goroutines_unavailable + ")"};
  if (t.is_go && opt.track_goroutines && !t.plan.tasks_unavailable.empty() && opt.track_allocations && opt.on_notice)
    opt.on_notice("goroutine tracking is off: " + t.plan.tasks_unavailable + "; allocation profiling goes on");
  return t;
}

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
}

// The target's own state now, read from its memory (no probe): the heap
// profile and every goroutine with its stack, as the end of `raw`, and
// which of them wait on what nothing else references.
void read_end_state(collect::RawRecording& raw, const PreparedTarget& t, const RecordOptions& opt,
                    const target::WalkLimits& limits) {
  const auto& notice = opt.on_notice;
  if (raw.heap_at_start) {
    if (auto heap = read_heap(t.proc, *t.exe, t.plan, limits, notice))
      raw.heap_at_end = std::move(*heap);
    else
      raw.heap_problem = heap.error().message + " (at the end)";
    if (!raw.heap_at_end) raw.heap_at_start.reset();
  }
  if (raw.goroutines_problem.empty()) {
    raw.goroutines_read_ns = clock_ns(CLOCK_MONOTONIC);
    const auto started = Clock::now();
    if (auto gs = read_goroutines(t.proc, *t.exe, t.plan, true, limits, notice)) {
      raw.goroutines_read_s = std::chrono::duration<double>(Clock::now() - started).count();
      raw.goroutines_at_end = std::move(*gs);
      raw.goroutines_read = true;
      scan_reachability(raw, t, opt, limits.stop);
    } else {
      raw.goroutines_problem = gs.error().message + " (at the end)";
    }
  }
}

// Attaches, collects until the window closes, detaches: everything the
// probes saw and the target's own state at both ends, no symbol yet.
Result<collect::RawRecording> collect_recording(const RecordOptions& opt, const PreparedTarget& t) {
  probes::GoProbeOptions popt;
  popt.pid = opt.pid;
  popt.ringbuf_bytes = opt.ringbuf_bytes;
  popt.empty_programs = opt.empty_programs;
  auto probes = probes::GoProbes::attach(t.plan.plan, popt);
  if (!probes) return probes.error();
  std::unique_ptr<probes::CHeapProbes> c_heap;
  if (t.c_heap) {
    auto c = probes::CHeapProbes::attach(*t.c_heap, opt.pid, opt.ringbuf_bytes, opt.empty_programs);
    if (!c) return c.error();
    c_heap = std::move(*c);
  }
  collect::RawRecording raw;
  collect::RingConsumer consumer;
  std::unique_ptr<ThreadRecorder> threads;
  if (opt.track_threads) {
    auto rec = ThreadRecorder::attach(opt.pid, opt.ringbuf_bytes, raw.threads, consumer);
    if (!rec) return rec.error();
    threads = std::move(*rec);
  }
  // Every probe is live: from now on they all count, over one window.
  (*probes)->open_window();
  if (c_heap) c_heap->open_window();
  if (threads) threads->open_window();
  const auto started = Clock::now();

  raw.started_unix_ns = clock_ns(CLOCK_REALTIME);
  raw.process = t.proc;
  raw.go_version = t.plan.build.version;
  raw.mode = opt.mode;
  raw.sample_rate = t.sample_rate;
  raw.probes_attached = (*probes)->probes_attached() + (c_heap ? c_heap->probes_attached() : 0) +
                        (threads ? threads->probes_attached() : 0);
  raw.c_heap_tracked = c_heap != nullptr;
  if (t.c_heap) {
    raw.c_heap_libc = t.c_heap->libc_display;
    raw.c_heap_go_stacks_unavailable = t.c_heap->go_stacks_unavailable;
  }
  raw.allocations_tracked = !t.plan.plan.alloc.empty() || !t.plan.plan.sample_alloc.empty();
  raw.allocations_unavailable = t.allocations_unavailable;
  raw.tasks_tracked = t.plan.plan.tracks_goroutines();
  raw.tasks_unavailable = t.plan.tasks_unavailable;
  raw.offsets = t.plan.offsets;
  raw.requests_counted = !t.plan.plan.requests.empty();
  raw.requests_unavailable = t.plan.requests_unavailable;
  raw.tiny_allocs_counted = !t.plan.plan.tiny_refill.empty();  // planned in sampled mode only

  collect::EventDecoder decoder(raw.allocs, raw.samples, raw.tasks);
  if (auto st = consumer.add((*probes)->events_map(), [&](const void* d, size_t n) { decoder.decode(d, n); }); !st)
    return st.error();
  collect::CHeapDecoder c_decoder(raw.c_heap);
  if (c_heap)
    if (auto st = consumer.add(c_heap->events_map(), [&](const void* d, size_t n) { c_decoder.decode(d, n); }); !st)
      return st.error();
  // Goroutines alive as the probes go live, registered with the tracker so
  // their exits are told apart.
  // With their stacks, grouped as at the end: how much each group grows.
  if (auto gs = read_goroutines(t.proc, *t.exe, t.plan, true, walk_limits(opt.stop), opt.on_notice)) {
    raw.preexisting = std::move(*gs);
    if (raw.tasks_tracked)
      for (const auto& g : raw.preexisting) raw.tasks.register_preexisting(g.goid, g.g_addr);
    // Spawn contexts for them, as far as their go statement goes: work a
    // goroutine started by a middleware before we attached is that
    // middleware's via goroutines. At most half the map, so that goroutines
    // born while recording keep theirs; the rest are counted as lost. One
    // without a go statement (main) gets an entry too, context 0: BPF then
    // knows it with one lookup instead of reading the target's memory at
    // each of its allocations (events.h, struct mws_spawn_ctx).
    if (raw.tasks_tracked && t.plan.plan.spawn_ctx.enabled) {
      size_t seeded = 0;
      for (const auto& g : raw.preexisting) {
        const uint64_t ctx = g.gopc != 0 && seeded < MWS_SPAWN_CTX_MAX / 2 ? raw.tasks.preexisting_context(g.gopc) : 0;
        if (g.gopc != 0 && ctx == 0) raw.spawn_ctx_seed_lost++;
        if (seeded < MWS_SPAWN_CTX_MAX / 2 && (*probes)->seed_spawn_context(g.g_addr, g.goid, ctx))
          seeded++;
        else if (ctx != 0)
          raw.spawn_ctx_seed_lost++;
      }
    }
  } else {
    raw.goroutines_problem = gs.error().message;
  }
  if (auto heap = read_heap(t.proc, *t.exe, t.plan, walk_limits(opt.stop), opt.on_notice))
    raw.heap_at_start = std::move(*heap);
  else
    raw.heap_problem = heap.error().message;
  if (opt.on_attached) {
    std::string line = attached_line(t, raw.probes_attached);
    if (threads) line += "; OS threads: tracepoints task:task_newtask and sched:sched_process_exit";
    opt.on_attached(line);
  }

  bool target_exited = false;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  double next_status = 1, next_interval = opt.interval_s, next_liveness = 0;
  while (!(opt.stop && opt.stop->load())) {
    if (opt.duration_s > 0 && elapsed() >= opt.duration_s) break;
    auto n = consumer.poll(100);
    if (!n) return n.error();
    // Ten times a second, not at every wakeup of a busy ring: reading
    // /proc/PID/stat thousands of times a second took CPU from the target.
    if (elapsed() >= next_liveness) {
      if (!target::process_running(opt.pid)) {  // gone, or a zombie that will never run again
        target_exited = true;
        break;
      }
      next_liveness = elapsed() + 0.1;
    }
    if (opt.on_status && elapsed() >= next_status) {
      take_counters(raw, **probes, decoder);
      uint64_t in_kernel = 0;
      (*probes)->for_each_alloc_count([&](const mws_alloc_key&, uint64_t objects, uint64_t) { in_kernel += objects; });
      opt.on_status({elapsed(), raw.events + in_kernel, raw.dropped_events});
      next_status = std::floor(elapsed()) + 1;
    }
    if (opt.on_interval && opt.interval_s > 0 && elapsed() >= next_interval) {
      // A copy, read and interpreted while the probes stay live: events
      // that arrive meanwhile wait in the ring buffer (or are counted lost).
      collect::RawRecording view = raw;
      take_pending_exits(view, **probes);
      merge_kernel_counts(view, **probes);
      take_counters(view, **probes, decoder);
      if (c_heap) take_c_heap_counters(view, *c_heap, c_decoder);
      view.duration_s = elapsed();
      view.ended_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
      read_end_state(view, t, opt, walk_limits(opt.stop));
      opt.on_interval(interpret::build_profile(std::move(view), *t.exe, interpret_options(opt)));
      while (next_interval <= elapsed()) next_interval += opt.interval_s;
    }
  }
  // Close the window for every probe at once, then detach: from here on
  // the target runs at full speed, and the detach time is not recorded.
  (*probes)->close_window();
  if (c_heap) c_heap->close_window();
  if (threads) threads->close_window();
  raw.duration_s = elapsed();
  raw.ended_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
  (*probes)->detach();
  if (c_heap) c_heap->detach();
  if (threads) threads->detach();
  if (auto n = consumer.drain(); !n) return n.error();
  if (threads) {
    threads->finish();
    if (t.is_go) read_go_threads(raw.threads, t.proc, *t.exe, t.plan.build.version, t.plan.offsets);
  }
  if (target_exited && opt.on_notice) opt.on_notice(t.what + " exited; reporting what was recorded");
  take_pending_exits(raw, **probes);
  merge_kernel_counts(raw, **probes);
  take_counters(raw, **probes, decoder);
  if (c_heap) take_c_heap_counters(raw, *c_heap, c_decoder);
  read_end_state(raw, t, opt, walk_limits(opt.stop_again));
  return raw;
}

}  // namespace

Result<Profile> record(const RecordOptions& opt) {
  auto target = prepare(opt);
  if (!target) return target.error();
  auto raw = collect_recording(opt, *target);
  if (!raw) return raw.error();
  return interpret::build_profile(std::move(*raw), *target->exe, interpret_options(opt));
}

}  // namespace mws::record
