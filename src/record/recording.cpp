#include "record/recording.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <new>
#include <set>
#include <string_view>

#include "collect/event_decoder.h"
#include "collect/ring_consumer.h"
#include "model/aggregator.h"
#include "model/profile_builder.h"
#include "model/task_tracker.h"
#include "probes/go_probe_plan.h"
#include "probes/go_probes.h"
#include "symbolize/go_closure_names.h"
#include "symbolize/go_symbolizer.h"
#include "symbolize/process_symbolizer.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_goroutines.h"
#include "target/go_types.h"
#include "target/privileges.h"
#include "target/process.h"
#include "target/remote_memory.h"
#include "version.h"

namespace mws::record {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Runtime address of a symbol of the executable (non-PIE: its link
// address; PIE: shifted by where the first segment was mapped).
std::optional<uint64_t> runtime_address(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                        uint64_t link_addr) {
  if (!exe.is_pie()) return link_addr;
  for (const auto& m : proc.mappings)
    if (m.path == proc.exe_display && m.offset == 0 && !exe.load_segments().empty())
      return link_addr + m.start - (exe.load_segments().front().vaddr & ~0xfffull);
  return std::nullopt;
}

std::string describe_state(const target::GoroutineState& st, const std::string& go_version) {
  if (target::go_status_is_waiting(st.status)) {
    auto reason = target::go_wait_reason_name(go_version, st.waitreason);
    if (reason.empty()) reason = "waiting";
    // _Gleaked: Go's own leak detector (1.26+) found it blocked on something unreachable.
    if ((st.status & ~target::kGoStatusScan) == target::kGoStatusLeaked) reason += " (leaked, says Go)";
    return reason;
  }
  return target::go_status_name(st.status);
}

// Goroutines alive as the probes go live, registered with the tracker so
// their exits are told apart, and grouped for the report.
void snapshot_preexisting(const target::ProcessInfo& proc, const target::ElfFile& exe,
                          std::optional<uint64_t> allgs_vaddr, const target::GoRuntimeOffsets& off,
                          model::TaskTracker& tracker, std::vector<target::GoroutineSnapshot>& out,
                          std::string& problem) {
  if (!allgs_vaddr) {
    problem = "runtime.allgs not found";
    return;
  }
  auto addr = runtime_address(proc, exe, *allgs_vaddr);
  if (!addr) {
    problem = "cannot locate runtime.allgs in memory";
    return;
  }
  auto gs = target::read_live_goroutines(target::RemoteMemory(proc.pid), *addr, off);
  if (!gs) {
    problem = gs.error().message;
    return;
  }
  for (const auto& g : *gs) tracker.register_preexisting(g.goid);
  out = std::move(*gs);
}

// Sampled mode rides runtime.MemProfileRate: read it (and set it, when
// asked) before attaching. Returns the rate in force.
Result<uint64_t> prepare_sample_rate(const RecordOptions& opt, const target::ProcessInfo& proc,
                                     const target::ElfFile& exe, const probes::GoTarget& t, const std::string& what) {
  auto addr = runtime_address(proc, exe, *t.mem_profile_rate_vaddr);
  if (!addr) return Error{what + ": cannot locate runtime.MemProfileRate in memory; try --mode exact"};
  target::RemoteMemory mem(opt.pid);
  if (opt.go_sample_rate > 0) {
    const int64_t rate = static_cast<int64_t>(opt.go_sample_rate);
    if (!mem.write(*addr, &rate, sizeof(rate)))
      return Error{what + ": cannot write runtime.MemProfileRate (" + std::strerror(errno) + ")"};
    if (opt.on_notice)
      opt.on_notice(fmt::format("warning: wrote runtime.MemProfileRate = {} into {} (--go-sample-rate); it stays "
                                "so after mwscope exits",
                                rate, what));
  }
  auto rate = mem.read<int64_t>(*addr);
  if (!rate) return Error{what + ": cannot read runtime.MemProfileRate (" + std::strerror(errno) + ")"};
  if (*rate <= 0)
    return Error{what + ": its runtime.MemProfileRate is 0, so the Go runtime samples no allocation (Go turns " +
                 "sampling off in programs that never call runtime.MemProfile, e.g. without net/http/pprof); " +
                 "use --mode exact, or --go-sample-rate 524288 to turn sampling on (writes into the process)"};
  return static_cast<uint64_t>(*rate);
}

// Every closure in the profile's stacks that Go renamed after inlining, with
// the function that made it.
std::map<std::string, std::string> find_closure_owners(const Profile& p, const target::GoPclntab& table) {
  std::set<std::string_view> functions;
  for (const Frame& f : p.frames) functions.insert(f.function);
  std::map<std::string, std::string> owners;
  for (std::string_view fn : functions)
    if (auto owner = symbolize::inlined_closure_owner(table, fn); !owner.empty()) owners[std::string(fn)] = owner;
  return owners;
}

}  // namespace

Result<Profile> record(const RecordOptions& opt) {
  if (opt.mode != "exact" && opt.mode != "sampled")
    return Error{"unknown mode '" + opt.mode + "': use --mode sampled or --mode exact"};
  const bool sampled = opt.mode == "sampled";
  if (!target::process_exists(opt.pid))
    return Error{fmt::format("no process with PID {} (is it running, and in this PID namespace?)", opt.pid)};
  if (auto st = target::check_bpf_privileges(); !st) return st.error();
  auto proc = target::inspect_process(opt.pid);
  if (!proc) return proc.error();
  const std::string what = fmt::format("process {} ({})", opt.pid, proc->exe_display);

  auto exe = target::ElfFile::open(proc->exe_path);
  if (!exe) return Error{what + ": " + exe.error().message};
  if (!opt.track_allocations && !opt.track_goroutines)
    return Error{"nothing to record: --no-allocs and --no-goroutines together turn every probe off"};
  probes::PlanRequest req;
  req.allocations = !opt.track_allocations ? probes::AllocationProbes::None
                    : sampled              ? probes::AllocationProbes::Sampled
                                           : probes::AllocationProbes::Exact;
  req.tasks = opt.track_goroutines;
  req.requests = opt.count_requests;
  auto target = probes::plan_go_probes(**exe, what, req);
  if (!target) return target.error();
  uint64_t sample_rate = 0;
  if (!target->plan.sample_alloc.empty()) {
    auto rate = prepare_sample_rate(opt, *proc, **exe, *target, what);
    if (!rate) return rate.error();
    sample_rate = *rate;
  }
  if (opt.track_goroutines && !target->tasks_unavailable.empty() && opt.track_allocations && opt.on_notice)
    opt.on_notice("goroutine tracking is off: " + target->tasks_unavailable + "; allocation profiling goes on");

  if (target->plan.alloc.empty() && target->plan.sample_alloc.empty() && target->plan.spawn.empty())
    return Error{"nothing to attach: goroutine tracking is unavailable (" + target->tasks_unavailable +
                 ") and --no-allocs turned allocation profiling off"};

  probes::GoProbeOptions popt;
  popt.pid = opt.pid;
  popt.ringbuf_bytes = opt.ringbuf_bytes;
  popt.empty_programs = opt.empty_programs;
  auto probes = probes::GoProbes::attach(target->plan, popt);
  if (!probes) return probes.error();
  // Every probe is live: from now on they all count, over one window.
  (*probes)->open_window();
  const auto started = Clock::now();
  const uint64_t started_unix_ns = clock_ns(CLOCK_REALTIME);

  model::Aggregator allocs;
  model::SampleTracker samples;
  model::TaskTracker tasks;
  collect::EventDecoder decoder(allocs, samples, tasks);
  collect::RingConsumer consumer((*probes)->events_map(), decoder);
  if (auto st = consumer.init(); !st) return st.error();

  const bool tracking_tasks = !target->plan.spawn.empty();
  const target::GoRuntimeOffsets& offsets = target->offsets;
  std::vector<target::GoroutineSnapshot> preexisting;
  std::string preexisting_problem;
  if (tracking_tasks)
    snapshot_preexisting(*proc, **exe, target->allgs_vaddr, offsets, tasks, preexisting, preexisting_problem);

  Profile profile;
  ProfileMeta& meta = profile.meta;
  meta.tool_version = MWSCOPE_VERSION;
  meta.pid = opt.pid;
  meta.executable = proc->exe_display;
  meta.go_version = target->build.version;
  meta.mode = opt.mode;
  meta.allocations_tracked = !target->plan.alloc.empty() || !target->plan.sample_alloc.empty();
  meta.sample_rate = sample_rate;
  meta.probes_attached = (*probes)->probes_attached();
  meta.started_unix_ns = started_unix_ns;
  if (opt.on_attached) {
    std::vector<std::string> parts;
    if (!target->plan.alloc.empty()) {
      const auto& a = target->plan.alloc.front();  // runtime.mallocgc
      std::string more = target->plan.alloc.size() > 1
                             ? fmt::format(" and {} size-specialised allocators", target->plan.alloc.size() - 1)
                             : "";
      parts.push_back(fmt::format("allocations: {} at {:#x} ({}){}", a.symbol, a.vaddr, a.placement, more));
    }
    if (!target->plan.sample_alloc.empty())
      parts.push_back(fmt::format("sampled allocations: runtime.mProf_Malloc, setprofilebucket, mProf_Free, "
                                  "gcMarkTermination, (*mcache).refill and releaseAll for the tiny-allocation count (MemProfileRate {} B)",
                                  sample_rate));
    if (tracking_tasks)
      parts.push_back(fmt::format("goroutine spawn ({} RET of runtime.newproc1) and exit ({}), g offsets from {}",
                                  target->plan.spawn.size(),
                                  target->plan.exit_gdestroy.empty() ? "runtime.goexit1" : "runtime.gdestroy",
                                  offsets.source));
    opt.on_attached(fmt::format("attached {} probe(s) to {} ({}): {}", meta.probes_attached, what,
                                target->build.version, fmt::join(parts, "; ")));
  }

  bool target_exited = false;
  while (!(opt.stop && opt.stop->load())) {
    if (opt.duration_s > 0 && std::chrono::duration<double>(Clock::now() - started).count() >= opt.duration_s)
      break;
    auto n = consumer.poll(100);
    if (!n) return n.error();
    if (!target::process_running(opt.pid)) {  // gone, or a zombie that will never run again
      target_exited = true;
      break;
    }
  }
  // Close the window for every probe at once, then detach: from here on
  // the target runs at full speed, and the detach time is not recorded.
  (*probes)->close_window();
  meta.duration_s = std::chrono::duration<double>(Clock::now() - started).count();
  const uint64_t end_ns = clock_ns(CLOCK_MONOTONIC);
  (*probes)->detach();
  if (auto n = consumer.drain(); !n) return n.error();
  if (target_exited && opt.on_notice) opt.on_notice(what + " exited; reporting what was recorded");

  const auto bpf = (*probes)->read_counters();
  meta.events = allocs.events() + samples.events() + tasks.spawned() + tasks.ended() + tasks.preexisting_ended() + tasks.unknown_exits();
  meta.dropped_events = bpf.ringbuf_drops + allocs.dropped() + samples.dropped() + decoder.stats().malformed + tasks.dropped() +
                        bpf.task_read_errors;
  meta.stack_errors = bpf.stack_errors + decoder.stats().missing_caller;
  meta.truncated_stacks = decoder.stats().truncated_stacks;

  auto go_sym = symbolize::GoSymbolizer::create(**exe, target->build.version);
  std::unique_ptr<symbolize::BinarySymbolizer> exe_sym;
  const target::GoPclntab* pclntab = nullptr;  // owned by exe_sym
  if (go_sym) {
    pclntab = &(*go_sym)->table();
    exe_sym = std::move(*go_sym);
  }
  else if (opt.on_notice)
    opt.on_notice("symbols unavailable: " + go_sym.error().message);
  symbolize::ProcessSymbolizer sym(*proc, **exe, std::move(exe_sym));
  target::GoTypeNamer types(**exe);
  model::StackSymbolizer stack_sym(sym);
  if (sampled) {
    meta.gc_cycles = samples.gc_cycles();
    meta.inuse_window_s = samples.inuse_window_s();
    meta.unattributed_free_samples = samples.unattributed_free_samples();
    meta.unattributed_free_bytes = samples.unattributed_free_bytes();
  }
  // Building the stacks is the report's biggest cost (about the recording's
  // own memory again). Out of memory here (an address-space limit, a huge
  // recording), the report goes on without them and says so: the counts
  // and goroutines recorded are not lost with them.
  const size_t raw_stacks = sampled ? samples.stacks().size() : allocs.stack_count();
  try {
    profile.stacks = sampled ? model::build_sampled_stacks(samples, stack_sym, sample_rate)
                             : model::build_alloc_stacks(allocs, stack_sym, [&](uint64_t type_addr, uint64_t size) {
                                 return types.name(type_addr, size);
                               });
  } catch (const std::bad_alloc&) {
    std::vector<ProfileStack>().swap(profile.stacks);
    meta.cut = fmt::format("allocation stacks left out: out of memory while symbolizing {} distinct stacks; "
                           "events and goroutines are complete (record for less time, or give mwscope more memory)",
                           raw_stacks);
    if (opt.on_notice) opt.on_notice("warning: " + meta.cut);
  }
  meta.tiny_allocs_counted = sampled && !target->plan.tiny_refill.empty();
  if (meta.tiny_allocs_counted) meta.tiny_allocs = bpf.tiny_allocs;
  profile.requests.counted = !target->plan.requests.empty();
  profile.requests.requests = bpf.requests;
  profile.requests.note = target->requests_unavailable;

  TaskSummary& ts = profile.tasks;
  ts.tracked = tracking_tasks;
  ts.unavailable_reason = tracking_tasks ? "" : target->tasks_unavailable;
  ts.offsets_source = offsets.source;
  ts.leak_age_s = opt.leak_age_s;
  if (tracking_tasks) {
    target::RemoteMemory mem(opt.pid);
    model::TaskSummaryInputs in;
    in.now_ns = end_ns;
    in.duration_s = meta.duration_s;
    in.leak_age_s = opt.leak_age_s;
    const std::string version = target->build.version;
    in.state_of = [&](uint64_t g) -> std::optional<std::string> {
      auto st = target::read_goroutine_state(mem, g, offsets);
      if (!st) return std::nullopt;
      return describe_state(*st, version);
    };
    model::build_task_summary(tasks, stack_sym, in, ts);
    ts.dropped = tasks.dropped() + bpf.task_read_errors;
    ts.preexisting_at_attach = preexisting.size();
    std::map<std::pair<std::string, std::string>, uint64_t> by_site;
    for (const auto& g : preexisting) {
      const auto& created = sym.symbolize_return_address(g.gopc);
      by_site[{created.empty() ? "[unknown]" : created.front().function, model::function_at_entry(sym, g.startpc)}]++;
    }
    for (const auto& [k, n] : by_site) ts.preexisting.push_back({k.first, k.second, n});
    std::sort(ts.preexisting.begin(), ts.preexisting.end(),
              [](const auto& a, const auto& b) { return a.alive_at_attach > b.alive_at_attach; });
    if (!preexisting_problem.empty() && opt.on_notice)
      opt.on_notice("goroutines alive before attach are not known: " + preexisting_problem);
  }
  profile.frames = std::move(stack_sym).take_frames();
  if (pclntab) profile.closure_owners = find_closure_owners(profile, *pclntab);
  return profile;
}

}  // namespace mws::record
