#include "record/prepared_target.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "probes/go_probes.h"
#include "record/thread_recorder.h"
#include "target/go_abi.h"
#include "target/remote_memory.h"
#include "util/terminal_text.h"

namespace mws::record {

// Runtime address of a symbol of the executable.
std::optional<uint64_t> runtime_address(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                        uint64_t link_addr) {
  auto bias = target::load_bias(proc, exe);
  if (!bias) return std::nullopt;
  return link_addr + static_cast<uint64_t>(*bias);
}

namespace {

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
}  // namespace

std::string attached_line(const PreparedTarget& prepared, uint32_t probes_attached) {
  const probes::GoTarget& t = prepared.plan;
  const std::string& what = prepared.what;
  const uint64_t sample_rate = prepared.sample_rate;
  std::vector<std::string> parts;
  if (!t.plan.alloc.empty() && t.plan.mallocgc_entry_unprobed) {
    const auto paths = std::count_if(t.plan.alloc.begin(), t.plan.alloc.end(), [](const probes::ProbeSite& s) {
      return target::allocator_role(s.symbol) == target::AllocatorRole::kInternal;
    });
    parts.push_back(fmt::format("allocations: {} size-specialised allocators and the {} paths runtime.mallocgc calls "
                                "(one trap per allocation)",
                                t.plan.alloc.size() - static_cast<size_t>(paths), paths));
  } else if (!t.plan.alloc.empty()) {
    const auto& a = t.plan.alloc.front();  // runtime.mallocgc
    std::string more = t.plan.alloc.size() > 1
                           ? fmt::format(" and {} size-specialised allocators", t.plan.alloc.size() - 1)
                           : "";
    parts.push_back(fmt::format("allocations: {} at {:#x} ({}){}", a.symbol, a.vaddr, a.placement, more));
  }
  if (!t.plan.sample_alloc.empty())
    parts.push_back(fmt::format("sampled allocations: runtime.mProf_Malloc"
                                "{} (MemProfileRate {} B; frees from the runtime's profile buckets)",
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
  req.routes = opt.by_route;
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

}  // namespace mws::record
