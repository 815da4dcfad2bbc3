// Which waits can hide a leak: every wait reason of the ABI table sorted
// into "waits on another goroutine" and "long-lived by design".
#include <catch2/catch.hpp>
#include <string>

#include "interpret/goroutine_groups.h"
#include "target/go_abi.h"

using namespace mws;

TEST_CASE("leak verdict: waits on other goroutines can leak, while I/O, timers, syscalls and the runtime's cannot",
          "[interpret]") {
  target::GoroutineState waiting{target::kGoStatusWaiting, 0};
  for (const char* r : {"chan receive", "chan send", "chan receive (nil chan)", "select", "select (no cases)",
                        "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.Cond.Wait", "sync.WaitGroup.Wait",
                        "semacquire", "coroutine"}) {
    INFO(r);
    CHECK(interpret::wait_can_leak(waiting, r));
  }
  for (const char* r : {"IO wait", "sleep", "GC worker (idle)", "finalizer wait", "timer goroutine (idle)",
                        "force gc (idle)", "preempted", "waiting"}) {
    INFO(r);
    CHECK_FALSE(interpret::wait_can_leak(waiting, r));
  }
  // Only a waiting goroutine waits on something; _Gleaked always leaked
  // (Go's own detector said so); the scan bit changes nothing.
  CHECK_FALSE(interpret::wait_can_leak({target::kGoStatusRunning, 0}, "chan receive"));
  CHECK_FALSE(interpret::wait_can_leak({target::kGoStatusSyscall, 0}, "syscall"));
  CHECK(interpret::wait_can_leak({target::kGoStatusLeaked, 0}, "chan receive (leaked, says Go)"));
  CHECK(interpret::wait_can_leak({target::kGoStatusWaiting | target::kGoStatusScan, 0}, "select"));
}
