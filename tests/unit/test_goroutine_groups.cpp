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

#include "interpret/goroutine_origin.h"

TEST_CASE("origin: a go statement in handler code while a request runs is per request, net/http's own is the "
          "connection's",
          "[interpret]") {
  using interpret::started_by_request;
  using V = std::vector<std::string_view>;
  // A handler's go statement, captured under the connection goroutine.
  CHECK(started_by_request(V{"main.Watchdog.func1", "net/http.HandlerFunc.ServeHTTP",
                             "net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve", "runtime.goexit"}));
  // An HTTP/2 stream's handler goroutine runs the handler directly.
  CHECK(started_by_request(V{"main.handler", "net/http.(*http2serverConn).runHandler", "runtime.goexit"}));
  // The accept loop starts connections: not a request.
  CHECK_FALSE(started_by_request(V{"net/http.(*Server).Serve", "main.main", "runtime.main"}));
  // net/http's own go statement under a request (an HTTP/2 connection's
  // frame reader) belongs to the connection.
  CHECK_FALSE(started_by_request(V{"net/http.(*http2serverConn).serve", "net/http.(*conn).serve"}));
  CHECK_FALSE(started_by_request(V{}));

  CHECK(interpret::is_request_goroutine("net/http.(*conn).serve"));
  // `go c.serve(ctx)` starts a compiler wrapper: the stack says what it serves.
  CHECK(interpret::request_served("net/http.(*Server).Serve.func3",
                                  V{"runtime.gopark", "main.stuckHandler", "net/http.serverHandler.ServeHTTP",
                                    "net/http.(*conn).serve", "net/http.(*Server).Serve.func3", "runtime.goexit"}) ==
        "net/http.(*conn).serve");
  CHECK(interpret::request_served("main.worker", V{"runtime.gopark", "main.worker", "runtime.goexit"}).empty());
  CHECK(interpret::request_served("net/http.(*conn).serve", V{}) == "net/http.(*conn).serve");
  CHECK_FALSE(interpret::is_request_goroutine("net/http.(*Server).Serve"));
  // A connection goroutine is in its handler only below serverHandler.ServeHTTP.
  CHECK(interpret::in_handler("net/http.(*conn).serve", V{"runtime.gopark", "main.stuckHandler",
                                                          "net/http.serverHandler.ServeHTTP",
                                                          "net/http.(*conn).serve"}));
  CHECK_FALSE(interpret::in_handler("net/http.(*conn).serve", V{"runtime.gopark", "internal/poll.runtime_pollWait",
                                                                "net/http.(*conn).readRequest",
                                                                "net/http.(*conn).serve"}));
  // Pooled client connections' loops are known by their stacks.
  CHECK(interpret::is_connection_goroutine(V{"runtime.gopark", "net/http.(*persistConn).writeLoop", "runtime.goexit"}));
  CHECK_FALSE(interpret::is_connection_goroutine(V{"runtime.gopark", "main.worker", "runtime.goexit"}));
}
