#include "probes/oom_watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "bpf/events.h"
#include "probes/bpf_support.h"
#include "process_ends.skel.h"

namespace mws::probes {

bool ProcessEnd::killed_by_signal() const { return kind == Kind::Exit && WIFSIGNALED(wait_status); }

int ProcessEnd::signal() const { return killed_by_signal() ? WTERMSIG(wait_status) : 0; }

Result<std::unique_ptr<OomWatch>> OomWatch::attach() {
  capture_libbpf_log();
  std::unique_ptr<OomWatch> w(new OomWatch());
  w->skel_ = process_ends::open();
  if (!w->skel_) return Error{"cannot open the process-ends BPF object: " + errno_text(errno)};
  if (int err = process_ends::load(w->skel_)) return bpf_load_error(err);
  if (int err = process_ends::attach(w->skel_))
    return Error{"cannot attach the tracepoints oom:mark_victim and sched:sched_process_exit: " + errno_text(err)};
  w->ring_ = ring_buffer__new(bpf_map__fd(w->skel_->maps.events), &OomWatch::on_sample, w.get(), nullptr);
  if (!w->ring_) return Error{"cannot open the process-ends ring buffer: " + errno_text(errno)};
  return w;
}

OomWatch::~OomWatch() {
  if (ring_) ring_buffer__free(ring_);
  if (skel_) process_ends::destroy(skel_);  // detaches, then closes every fd
}

int OomWatch::fd() const { return ring_buffer__epoll_fd(ring_); }

int OomWatch::on_sample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<OomWatch*>(ctx);
  if (size < sizeof(mws_process_end_event) || !self->on_end_) return 0;
  mws_process_end_event e;
  std::memcpy(&e, data, sizeof e);
  ProcessEnd end;
  end.kind = e.hdr.kind == MWS_EV_PROCESS_EXIT ? ProcessEnd::Kind::Exit : ProcessEnd::Kind::OomVictim;
  end.pid = static_cast<pid_t>(e.hdr.pid);
  end.tid = static_cast<pid_t>(e.hdr.tid);
  end.ts_ns = e.hdr.ts_ns;
  end.pid_is_tid = e.hdr.flags & MWS_FLAG_PID_IS_TID;
  end.wait_status = static_cast<int>(e.wait_status);
  end.comm.assign(e.comm, strnlen(e.comm, sizeof e.comm));
  self->handled_++;
  (*self->on_end_)(end);
  return 0;
}

Result<int> OomWatch::poll(int timeout_ms, const std::function<void(const ProcessEnd&)>& on_end) {
  on_end_ = &on_end;
  handled_ = 0;
  const int n = ring_buffer__poll(ring_, timeout_ms);
  on_end_ = nullptr;
  if (n < 0 && n != -EINTR) return Error{"cannot read the process-ends ring buffer: " + errno_text(n)};
  return handled_;
}

Status OomWatch::watch_exit(pid_t pid) {
  const uint32_t key = static_cast<uint32_t>(pid), one = 1;
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.watched_exits), &key, &one, BPF_ANY) != 0)
    return Error{"cannot watch process " + std::to_string(pid) + "'s exit: " + errno_text(errno) +
                 (errno == E2BIG ? " (" + std::to_string(MWS_WATCHED_EXITS_MAX) + " processes watched already)"
                                 : std::string())};
  return Ok{};
}

void OomWatch::unwatch_exit(pid_t pid) {
  const uint32_t key = static_cast<uint32_t>(pid);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.watched_exits), &key);
}

uint64_t OomWatch::dropped() const {
  return sum_percpu_counters(skel_->maps.counters, MWS_ECNT__COUNT)[MWS_ECNT_RINGBUF_DROPS];
}

}  // namespace mws::probes
