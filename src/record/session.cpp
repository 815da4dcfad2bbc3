#include "record/session.h"

#include <chrono>
#include <memory>

#include "collect/c_heap_decoder.h"
#include "collect/event_decoder.h"
#include "collect/raw_recording.h"
#include "collect/ring_consumer.h"
#include "interpret/build_profile.h"
#include "probes/c_heap_probes.h"
#include "probes/go_probes.h"
#include "record/end_state.h"
#include "record/prepared_target.h"
#include "record/thread_recorder.h"

namespace mws::record {
namespace {

using Clock = std::chrono::steady_clock;

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
  raw.request_state_full = bpf.request_state_full;
  raw.tiny_allocs = bpf.tiny_allocs;
  raw.task_read_errors = bpf.task_read_errors;
  raw.spawn_ctx_lost = bpf.spawn_ctx_lost + raw.spawn_ctx_seed_lost;
  raw.events = raw.allocs.events() + raw.samples.events() + raw.tasks.spawned() + raw.tasks.ended() +
               raw.tasks.preexisting_ended() + raw.tasks.unknown_exits();
  raw.dropped_ring_full = bpf.ringbuf_drops;
  raw.dropped_over_limit = raw.allocs.dropped() + raw.samples.dropped() + raw.tasks.dropped() + bpf.pending_lost;
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

// Exact mode: one kernel count added to the stacks the ring buffer
// delivered (bpf/events.h, alloc_counts).
auto add_kernel_count(collect::RawRecording& raw) {
  return [&raw](const mws_alloc_key& k, uint64_t objects, uint64_t bytes) {
    raw.allocs.add_hashed_counts(k.stack_hash, k.type_addr, objects, bytes, k.spawn_ctx, k.route_tag);
  };
}

void merge_kernel_counts(collect::RawRecording& raw, const probes::GoProbes& probes) {
  probes.for_each_alloc_count(add_kernel_count(raw));
}

// Exact mode, at the end: what requests still held in the kernel's pending
// slots (in flight, or never routed), under their serials.
void merge_pending_counts(collect::RawRecording& raw, const probes::GoProbes& probes) {
  probes.for_each_pending_count(add_kernel_count(raw));
}

// Exact mode with routes: an allocation made before its request's router
// ran waits in the kernel's pending slots and reaches alloc_counts under
// the route; what did not fit is counted under the request's serial
// (bpf/events.h, "Routes"), one key per request and stack. The keys of
// requests whose route has come are taken out once a second, so the map
// holds requests in flight, not every request of the recording. A request is done with
// its serial once its route event is sent (the route trap follows its
// last allocation before routing), but goroutines it started still carry
// it (INHERITED): theirs stay. Requests no router named (rejected before
// routing) are taken once 10,000 requests later: one still allocating
// before routing by then may lose a count racing the take.
void drain_finished_requests(collect::RawRecording& raw, probes::GoProbes& probes) {
  constexpr uint64_t kOldRequests = 10000;
  const uint64_t requests = probes.read_counters().requests;
  probes.drain_alloc_counts(
      [&](const mws_alloc_key& k) {
        if (!(k.route_tag & MWS_ROUTE_TAG_PENDING) || (k.route_tag & MWS_ROUTE_TAG_INHERITED)) return false;
        const uint64_t serial = k.route_tag & MWS_ROUTE_TAG_SERIAL_MASK;
        return raw.routes.routed(serial) || serial + kOldRequests < requests;
      },
      add_kernel_count(raw));
}

interpret::InterpretOptions interpret_options(const RecordOptions& opt) {
  interpret::InterpretOptions iopt;
  iopt.leak_age_s = opt.leak_age_s;
  iopt.on_notice = opt.on_notice;
  return iopt;
}

}  // namespace

struct Session::State {
  RecordOptions opt;
  PreparedTarget t;
  // Declared before what reads from them: destroyed after it.
  std::unique_ptr<probes::GoProbes> probes;
  std::unique_ptr<probes::CHeapProbes> c_heap;
  collect::RawRecording raw;
  collect::RingConsumer consumer;
  std::unique_ptr<ThreadRecorder> threads;
  std::unique_ptr<collect::EventDecoder> decoder;
  std::unique_ptr<collect::CHeapDecoder> c_decoder;
  Clock::time_point started;
  double next_liveness = 0;
  double next_drain = 0;
  bool target_exited = false;
  bool finished = false;

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - started).count(); }
  Status attach();
  void read_start_state();
  // What the kernel holds beside the ring (per-CPU exit batches, exact
  // mode's counts, the counters) into `into`.
  void take_kernel_side(collect::RawRecording& into) {
    take_pending_exits(into, *probes);
    merge_kernel_counts(into, *probes);
    take_counters(into, *probes, *decoder);
    if (c_heap) take_c_heap_counters(into, *c_heap, *c_decoder);
  }
};

// Attaches every probe and opens one window for all of them.
Status Session::State::attach() {
  probes::GoProbeOptions popt;
  popt.pid = opt.pid;
  popt.ringbuf_bytes = opt.ringbuf_bytes;
  popt.empty_programs = opt.empty_programs;
  popt.pending_slots = opt.pending_slots;
  auto go = probes::GoProbes::attach(t.plan.plan, popt);
  if (!go) return go.error();
  probes = std::move(*go);
  if (t.c_heap) {
    auto c = probes::CHeapProbes::attach(*t.c_heap, opt.pid, opt.ringbuf_bytes, opt.empty_programs);
    if (!c) return c.error();
    c_heap = std::move(*c);
  }
  if (opt.track_threads) {
    auto rec = ThreadRecorder::attach(opt.pid, opt.ringbuf_bytes, raw.threads, consumer);
    if (!rec) return rec.error();
    threads = std::move(*rec);
  }
  // Every probe is live: from now on they all count, over one window.
  probes->open_window();
  if (c_heap) c_heap->open_window();
  if (threads) threads->open_window();
  started = Clock::now();

  raw.started_unix_ns = clock_ns(CLOCK_REALTIME);
  raw.process = t.proc;
  raw.go_version = t.plan.build.version;
  raw.mode = opt.mode;
  raw.sample_rate = t.sample_rate;
  raw.probes_attached = probes->probes_attached() + (c_heap ? c_heap->probes_attached() : 0) +
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
  raw.routes_recorded = !t.plan.plan.routes.empty() && (raw.requests_counted || t.plan.plan.request_key.ret != 0);
  raw.routes_unavailable = t.plan.routes_unavailable;
  raw.routers = t.plan.routers;
  raw.routers_refused = t.plan.routers_refused;
  raw.tiny_allocs_counted = !t.plan.plan.tiny_refill.empty();  // planned in sampled mode only

  decoder = std::make_unique<collect::EventDecoder>(raw.allocs, raw.samples, raw.tasks, raw.routes);
  if (auto st = consumer.add(probes->events_map(), [this](const void* d, size_t n) { decoder->decode(d, n); }); !st)
    return st.error();
  c_decoder = std::make_unique<collect::CHeapDecoder>(raw.c_heap);
  if (c_heap)
    if (auto st = consumer.add(c_heap->events_map(), [this](const void* d, size_t n) { c_decoder->decode(d, n); });
        !st)
      return st.error();
  return Ok{};
}

// The target's goroutines and heap profile as the probes go live.
void Session::State::read_start_state() {
  // Goroutines alive as the probes go live, registered with the tracker so
  // their exits are told apart.
  // With their stacks, grouped as at the end: how much each group grows.
  if (auto gs = read_goroutines(t, true, walk_limits(opt.stop), opt.on_notice)) {
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
        if (seeded < MWS_SPAWN_CTX_MAX / 2 && probes->seed_spawn_context(g.g_addr, g.goid, ctx))
          seeded++;
        else if (ctx != 0)
          raw.spawn_ctx_seed_lost++;
      }
    }
  } else {
    raw.goroutines_problem = gs.error().message;
  }
  if (auto heap = read_heap(t, walk_limits(opt.stop), opt.on_notice))
    raw.heap_at_start = std::move(*heap);
  else
    raw.heap_problem = heap.error().message;
}

Session::Session(std::unique_ptr<State> s) : s_(std::move(s)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::start(const RecordOptions& opt) {
  auto prepared = prepare(opt);
  if (!prepared) return prepared.error();
  auto s = std::make_unique<State>();
  s->opt = opt;
  s->t = std::move(*prepared);
  if (auto st = s->attach(); !st) return st.error();  // ~State detaches what did attach
  s->read_start_state();
  if (opt.on_attached) {
    std::string line = attached_line(s->t, s->raw.probes_attached);
    if (s->threads) line += "; OS threads: tracepoints task:task_newtask and sched:sched_process_exit";
    opt.on_attached(line);
  }
  return std::unique_ptr<Session>(new Session(std::move(s)));
}

Result<bool> Session::pump(int timeout_ms) {
  State& s = *s_;
  if (s.finished || s.target_exited) return false;
  auto n = s.consumer.poll(timeout_ms);
  if (!n) return n.error();
  // Ten times a second, not at every wakeup of a busy ring: reading
  // /proc/PID/stat thousands of times a second took CPU from the target.
  if (s.elapsed() >= s.next_liveness) {
    if (!target::process_running(s.opt.pid)) {  // gone, or a zombie that will never run again
      s.target_exited = true;
      return false;
    }
    s.next_liveness = s.elapsed() + s.opt.liveness_s;
  }
  if (s.raw.routes_recorded && !s.raw.sampled() && s.elapsed() >= s.next_drain) {
    drain_finished_requests(s.raw, *s.probes);
    s.next_drain = s.elapsed() + 1;
  }
  return true;
}

LiveStatus Session::status() {
  State& s = *s_;
  take_counters(s.raw, *s.probes, *s.decoder);
  uint64_t in_kernel = 0;
  s.probes->for_each_alloc_count([&](const mws_alloc_key&, uint64_t objects, uint64_t) { in_kernel += objects; });
  return {s.elapsed(), s.raw.events + in_kernel, s.raw.dropped_events};
}

Result<Profile> Session::snapshot() {
  State& s = *s_;
  if (s.finished) return Error{"the recording of " + s.t.what + " is over"};
  // A copy, read and interpreted while the probes stay live.
  collect::RawRecording view = s.raw;
  s.take_kernel_side(view);
  view.duration_s = s.elapsed();
  view.ended_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
  read_end_state(view, s.t, s.opt, walk_limits(s.opt.stop));
  return interpret::build_profile(std::move(view), *s.t.exe, interpret_options(s.opt));
}

Result<Profile> Session::finish() {
  State& s = *s_;
  if (s.finished) return Error{"the recording of " + s.t.what + " is over"};
  s.finished = true;
  // Close the window for every probe at once, then detach: from here on
  // the target runs at full speed, and the detach time is not recorded.
  s.probes->close_window();
  if (s.c_heap) s.c_heap->close_window();
  if (s.threads) s.threads->close_window();
  collect::RawRecording& raw = s.raw;
  raw.duration_s = s.elapsed();
  raw.ended_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
  s.probes->detach();
  if (s.c_heap) s.c_heap->detach();
  if (s.threads) s.threads->detach();
  if (auto n = s.consumer.drain(); !n) return n.error();
  if (s.threads) {
    s.threads->finish();
    if (s.t.is_go) read_go_threads(raw.threads, s.t.proc, *s.t.exe, s.t.plan.build.version, s.t.plan.offsets);
  }
  if (s.target_exited && s.opt.on_notice) s.opt.on_notice(s.t.what + " exited; reporting what was recorded");
  s.take_kernel_side(raw);
  // Only now: while the probes ran, a route site could move slots between
  // the two maps as they were read (a snapshot leaves in-flight requests'
  // pre-router counts to a later one).
  if (raw.routes_recorded && !raw.sampled()) merge_pending_counts(raw, *s.probes);
  read_end_state(raw, s.t, s.opt, walk_limits(s.opt.stop_again));
  return interpret::build_profile(std::move(raw), *s.t.exe, interpret_options(s.opt));
}

double Session::elapsed_s() const { return s_->elapsed(); }
bool Session::target_exited() const { return s_->target_exited; }
const std::string& Session::what() const { return s_->t.what; }
pid_t Session::pid() const { return s_->opt.pid; }

}  // namespace mws::record
