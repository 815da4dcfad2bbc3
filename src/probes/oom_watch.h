// How processes end, for `mwscope serve`: loads bpf/process_ends.bpf.c and
// attaches two kernel tracepoints for the whole host.
//  - oom:mark_victim: the kernel's OOM killer chose a victim. Reported for
//    every process, before the victim is gone (the tracepoint fires before
//    the kill), so the agent can still read its last heap.
//  - sched:sched_process_exit: a process given to watch_exit() ended; its
//    wait status says whether a signal (SIGKILL) ended it.
// The links belong to file descriptors held here; destroying the OomWatch
// (or mwscope dying) detaches them. Nothing is pinned.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/result.h"

struct process_ends;
struct ring_buffer;

namespace mws::probes {

struct ProcessEnd {
  enum class Kind { OomVictim, Exit };
  Kind kind = Kind::OomVictim;
  pid_t pid = 0;        // the process (thread group)
  pid_t tid = 0;        // OomVictim: the thread the kernel named; Exit: the last thread
  uint64_t ts_ns = 0;   // CLOCK_MONOTONIC
  // OomVictim on an older kernel, whose tracepoint names only a thread:
  // pid is that thread's id (the process's own unless its main thread had
  // already exited).
  bool pid_is_tid = false;
  int wait_status = 0;  // Exit: as waitpid(2) gives it (WIFSIGNALED, WTERMSIG...)
  std::string comm;     // the kernel's name for it (bytes the process chose: not terminal-safe)

  // Exit only: ended by a signal, and which (SIGKILL for the OOM killer or kill -9).
  bool killed_by_signal() const;
  int signal() const;
};

class OomWatch {
 public:
  // Fails with one line (no BPF permission, tracepoint missing...).
  static Result<std::unique_ptr<OomWatch>> attach();
  ~OomWatch();
  OomWatch(const OomWatch&) = delete;
  OomWatch& operator=(const OomWatch&) = delete;

  // Readable (epoll/poll) when events wait; then call poll(0, ...).
  int fd() const;
  // Waits up to timeout_ms (0: not at all, -1: forever) for events, and
  // hands each waiting one to on_end, oldest first. Returns how many.
  // EINTR is not an error: it returns what it handled.
  Result<int> poll(int timeout_ms, const std::function<void(const ProcessEnd&)>& on_end);

  // Report this process's exit (a ProcessEnd of kind Exit), once: it is
  // forgotten when it ends. Fails when MWS_WATCHED_EXITS_MAX processes are
  // watched already.
  Status watch_exit(pid_t pid);
  void unwatch_exit(pid_t pid);

  // Events lost because the ring buffer was full.
  uint64_t dropped() const;

 private:
  OomWatch() = default;
  process_ends* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  const std::function<void(const ProcessEnd&)>* on_end_ = nullptr;  // during poll()
  int handled_ = 0;
  static int on_sample(void* ctx, void* data, size_t size);
};

}  // namespace mws::probes
