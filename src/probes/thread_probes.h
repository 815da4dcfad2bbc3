// Loads bpf/threads.bpf.c and attaches its two kernel tracepoints
// (task:task_newtask, sched:sched_process_exit), filtered in BPF to one
// target's threads. It needs no runtime in the target: Go, C and C++
// processes alike. Links are owned by file descriptors held here;
// destroying ThreadProbes (or mwscope dying) detaches them. Nothing is
// pinned.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "util/result.h"

struct thread_probes;
struct bpf_map;
struct bpf_link;

namespace mws::probes {

struct ThreadProbeCounters {
  uint64_t ringbuf_drops = 0, stack_errors = 0;
};

class ThreadProbes {
 public:
  static Result<std::unique_ptr<ThreadProbes>> attach(pid_t pid, uint64_t ringbuf_bytes);
  ~ThreadProbes();
  ThreadProbes(const ThreadProbes&) = delete;
  ThreadProbes& operator=(const ThreadProbes&) = delete;

  bpf_map* events_map() const;
  ThreadProbeCounters read_counters() const;
  uint32_t probes_attached() const { return links_; }
  void open_window();
  void close_window();
  // Detaches both tracepoints now (idempotent); maps stay readable.
  void detach();

 private:
  ThreadProbes() = default;
  thread_probes* skel_ = nullptr;
  uint32_t links_ = 0;
};

}  // namespace mws::probes
