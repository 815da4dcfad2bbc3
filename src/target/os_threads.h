// The target's OS threads as the kernel shows them in /proc/PID/task:
// any process, Go or not, no probe. What a thread that is not a Go M can
// tell about itself: its name, its state, and where it sleeps (wchan) or
// which system call it is in.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/result.h"

namespace mws::target {

struct OsThread {
  uint32_t tid = 0;
  std::string comm;     // /proc/PID/task/TID/comm
  char state = '?';     // /proc/PID/task/TID/stat: R, S, D, ...
  std::string wchan;    // kernel function it sleeps in ("futex_wait_queue", "pipe_read"); "" if running or unknown
  int64_t syscall = -2; // /proc/PID/task/TID/syscall: its number; -1 running in user space; -2 unknown
};

// Every thread of the process now. Fails when /proc/PID/task cannot be
// listed (the process is gone); a thread that exits while being read is
// left out.
Result<std::vector<OsThread>> list_os_threads(pid_t pid);

// "read" for 0 ... on x86-64, the names of the system calls a blocked
// thread is commonly in; "syscall N" for the rest.
std::string syscall_name(int64_t nr);

}  // namespace mws::target
