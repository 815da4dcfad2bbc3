#include "record/recording.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "collect/event_decoder.h"
#include "collect/ring_consumer.h"
#include "model/aggregator.h"
#include "model/profile_builder.h"
#include "probes/alloc_probe.h"
#include "probes/go_probe_plan.h"
#include "symbolize/go_symbolizer.h"
#include "symbolize/process_symbolizer.h"
#include "target/elf_file.h"
#include "target/privileges.h"
#include "target/process.h"
#include "version.h"

namespace mws::record {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t unix_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

Result<Profile> record(const RecordOptions& opt) {
  if (opt.mode != "exact") return Error{"unknown mode '" + opt.mode + "': only --mode exact is available"};
  if (!target::process_exists(opt.pid))
    return Error{fmt::format("no process with PID {} (is it running, and in this PID namespace?)", opt.pid)};
  if (auto st = target::check_bpf_privileges(); !st) return st.error();
  auto proc = target::inspect_process(opt.pid);
  if (!proc) return proc.error();
  const std::string what = fmt::format("process {} ({})", opt.pid, proc->exe_display);

  auto exe = target::ElfFile::open(proc->exe_path);
  if (!exe) return Error{what + ": " + exe.error().message};
  auto plan = probes::plan_go_alloc_probe(**exe, what);
  if (!plan) return plan.error();

  probes::AllocProbeOptions popt;
  popt.pid = opt.pid;
  popt.ringbuf_bytes = opt.ringbuf_bytes;
  popt.empty_program = opt.empty_program;
  auto probe = probes::AllocProbe::attach(plan->mallocgc, popt);
  if (!probe) return probe.error();

  model::Aggregator agg;
  collect::EventDecoder decoder(agg);
  collect::RingConsumer consumer((*probe)->events_map(), decoder);
  if (auto st = consumer.init(); !st) return st.error();

  ProfileMeta meta;
  meta.tool_version = MWSCOPE_VERSION;
  meta.pid = opt.pid;
  meta.executable = proc->exe_display;
  meta.go_version = plan->build.version;
  meta.mode = opt.mode;
  meta.probes_attached = (*probe)->probes_attached();
  meta.started_unix_ns = unix_now_ns();
  const auto started = Clock::now();
  if (opt.on_attached)
    opt.on_attached(fmt::format("attached {} probe(s) to {} ({}): {} at {:#x}{}", meta.probes_attached, what,
                                plan->build.version, plan->mallocgc.symbol, plan->mallocgc.vaddr,
                                plan->mallocgc.on_stack_check_jump ? " (prologue jump)" : " (entry)"));

  bool target_exited = false;
  while (!(opt.stop && opt.stop->load())) {
    if (opt.duration_s > 0 &&
        std::chrono::duration<double>(Clock::now() - started).count() >= opt.duration_s)
      break;
    auto n = consumer.poll(100);
    if (!n) return n.error();
    if (!target::process_exists(opt.pid)) {
      target_exited = true;
      break;
    }
  }
  // Detach first: from here on the target runs at full speed.
  (*probe)->detach();
  meta.duration_s = std::chrono::duration<double>(Clock::now() - started).count();
  if (auto n = consumer.drain(); !n) return n.error();
  if (target_exited && opt.on_notice) opt.on_notice(what + " exited; reporting what was recorded");

  const auto bpf = (*probe)->read_counters();
  meta.events = agg.events();
  meta.dropped_events = bpf.ringbuf_drops + agg.dropped() + decoder.stats().malformed;
  meta.stack_errors = bpf.stack_errors + decoder.stats().missing_caller;
  meta.truncated_stacks = decoder.stats().truncated_stacks;

  auto go_sym = symbolize::GoSymbolizer::create(**exe, plan->build.version);
  std::unique_ptr<symbolize::BinarySymbolizer> exe_sym;
  if (go_sym) exe_sym = std::move(*go_sym);
  else if (opt.on_notice) opt.on_notice("symbols unavailable: " + go_sym.error().message);
  symbolize::ProcessSymbolizer sym(*proc, **exe, std::move(exe_sym));
  return model::build_profile(agg, sym, std::move(meta));
}

}  // namespace mws::record
