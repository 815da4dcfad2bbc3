#include "probes/thread_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "probes/bpf_support.h"
#include "thread_probes.skel.h"

namespace mws::probes {

Result<std::unique_ptr<ThreadProbes>> ThreadProbes::attach(pid_t pid, uint64_t ringbuf_bytes) {
  capture_libbpf_log();
  std::unique_ptr<ThreadProbes> p(new ThreadProbes());
  p->skel_ = thread_probes::open();
  if (!p->skel_) return Error{"cannot open the thread BPF object: " + errno_text(errno)};
  p->skel_->rodata->target_tgid = static_cast<uint32_t>(pid);
  if (int err = bpf_map__set_max_entries(p->skel_->maps.events, static_cast<uint32_t>(ringbuf_bytes)))
    return Error{"cannot size the thread ring buffer: " + errno_text(err)};
  if (int err = thread_probes::load(p->skel_)) return bpf_load_error(err);
  // The skeleton owns the links: thread_probes::destroy (or detach) releases them.
  if (int err = thread_probes::attach(p->skel_))
    return Error{"cannot attach the thread tracepoints (task:task_newtask, sched:sched_process_exit): " +
                 errno_text(err)};
  p->links_ = 2;
  return p;
}

ThreadProbes::~ThreadProbes() {
  detach();
  if (skel_) thread_probes::destroy(skel_);
}

void ThreadProbes::open_window() { __atomic_store_n(&skel_->bss->window_open, 1u, __ATOMIC_SEQ_CST); }

void ThreadProbes::close_window() { __atomic_store_n(&skel_->bss->window_open, 0u, __ATOMIC_SEQ_CST); }

void ThreadProbes::detach() {
  if (!skel_) return;
  close_window();
  thread_probes::detach(skel_);
  links_ = 0;
}

bpf_map* ThreadProbes::events_map() const { return skel_->maps.events; }

ThreadProbeCounters ThreadProbes::read_counters() const {
  const auto sum = sum_percpu_counters(skel_->maps.counters, MWS_TCNT__COUNT);
  ThreadProbeCounters c;
  c.ringbuf_drops = sum[MWS_TCNT_RINGBUF_DROPS];
  c.stack_errors = sum[MWS_TCNT_STACK_ERRORS];
  return c;
}

}  // namespace mws::probes
