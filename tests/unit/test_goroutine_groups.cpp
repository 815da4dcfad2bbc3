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

// ---------------------------------------------------------------- group_goroutines

#include <elf.h>

#include <memory>
#include <unordered_map>

#include "symbolize/go_symbolizer.h"
#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"

namespace {

// The taskserver fixture as if mapped at its link addresses (a Go binary is
// not position-independent): goroutines made of its real functions' PCs.
struct FixtureProcess {
  std::unique_ptr<target::ElfFile> exe;
  std::string version;
  const target::GoPclntab* table = nullptr;
  std::unique_ptr<symbolize::ProcessSymbolizer> process;
  std::unique_ptr<symbolize::StackSymbolizer> stacks;

  FixtureProcess() {
    const std::string path = std::string(MWS_FIXTURE_DIR) + "/taskserver";
    auto elf = target::ElfFile::open(path);
    REQUIRE(elf);
    exe = std::move(*elf);
    auto bi = target::read_go_buildinfo(*exe);
    REQUIRE(bi);
    version = bi->version;
    auto go = symbolize::GoSymbolizer::create(*exe, version);
    REQUIRE(go);
    table = &(*go)->table();
    target::ProcessInfo proc;
    proc.exe_path = proc.exe_display = path;
    for (const auto& s : exe->load_segments())
      proc.mappings.push_back({s.vaddr, s.vaddr + s.memsz, s.offset, (s.flags & PF_X) != 0, path, true, false});
    process = std::make_unique<symbolize::ProcessSymbolizer>(proc, *exe, std::move(*go));
    stacks = std::make_unique<symbolize::StackSymbolizer>(*process);
  }
  // A return address inside `function` (past its entry), as a stack holds.
  uint64_t in(const char* function) const {
    auto f = table->function_by_name(function);
    INFO(function);
    REQUIRE(f);
    return f->entry + std::min<uint64_t>(8, f->size() - 1);
  }
  uint64_t entry(const char* function) const {
    auto f = table->function_by_name(function);
    INFO(function);
    REQUIRE(f);
    return f->entry;
  }
  uint8_t wait(const std::string& reason) const {
    for (int r = 1; r < 256; r++)
      if (target::go_wait_reason_name(version, uint8_t(r)) == reason) return uint8_t(r);
    FAIL("no wait reason " << reason << " in " << version);
    return 0;
  }
};

}  // namespace

TEST_CASE("group_goroutines: each goroutine's evidence, grouped as the goroutine profile groups them",
          "[interpret][leaks]") {
  FixtureProcess fx;
  const uint8_t chan_receive = fx.wait("chan receive"), select = fx.wait("select");
  auto g = [&](uint64_t goid, const char* start, const char* creator, std::vector<const char*> parked,
               uint8_t reason, uint64_t parent = 0) {
    target::GoroutineSnapshot s;
    s.g_addr = 0xc000100000 + goid * 0x400;
    s.goid = goid;
    s.startpc = fx.entry(start);
    s.gopc = creator ? fx.in(creator) : 0;
    s.parent_goid = parent;
    s.state = {target::kGoStatusWaiting, reason};
    for (const char* f : parked) s.stack.push_back(fx.in(f));
    return s;
  };
  const std::vector<target::GoroutineSnapshot> end = {
      // A request stuck in its handler (the connection goroutine).
      g(10, "net/http.(*conn).serve", "net/http.(*Server).Serve",
        {"runtime.gopark", "main.stuckHandler", "net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve"}, select),
      // Two leaks its handler started (g.parentGoid names it), one proven unreachable.
      g(11, "main.Watchdog.func1.1", "main.Watchdog.func1", {"runtime.gopark", "main.Watchdog.func1.1"}, chan_receive, 10),
      g(12, "main.Watchdog.func1.1", "main.Watchdog.func1", {"runtime.gopark", "main.Watchdog.func1.1"}, chan_receive, 10),
      // net/http's own go statement under the request: the connection's.
      g(13, "net/http.(*connReader).backgroundRead", "net/http.(*connReader).startBackgroundRead",
        {"runtime.gopark", "net/http.(*connReader).backgroundRead"}, chan_receive, 10),
      // A start-up loop: main started it.
      g(14, "main.Offload.func1.1", "main.main", {"runtime.gopark", "main.Offload.func1.1"}, select, 1),
      // Blocked only since after attach, and no GC stamped it: not long.
      g(15, "main.Notifier.func1.1", "main.Notifier.func1", {"runtime.gopark", "main.Notifier.func1.1"}, select, 10),
      // The runtime's own: counted apart, never grouped.
      g(16, "runtime.bgsweep", "runtime.gcenable", {"runtime.gopark", "runtime.bgsweep"}, chan_receive),
  };
  std::vector<target::GoroutineSnapshot> attach(end.begin(), end.begin() + 5);  // 15 is not there yet
  attach.push_back(end[6]);
  std::unordered_map<uint64_t, collect::WaitReach> reach = {{11, collect::WaitReach::kUnreachable},
                                                            {12, collect::WaitReach::kReachable}};
  interpret::GoroutineSnapshotInputs in;
  in.at_attach = &attach;
  in.at_end = &end;
  in.read_ns = 1'000'000'000'000;
  in.duration_s = 10;  // waiting for the same thing at both readings: blocked at least that long
  in.leak_age_s = 5;
  in.go_version = fx.version;
  in.reach = &reach;
  std::unordered_map<uint64_t, GoroutineEvidence> by_goid;
  const GoroutineSnapshotSummary s = interpret::group_goroutines(in, *fx.stacks, &by_goid);

  CHECK(s.total == 6);
  CHECK(s.runtime == 1);
  CHECK(s.total_at_attach == 5);
  CHECK(by_goid.size() == 6);  // the runtime's own has no evidence
  CHECK(by_goid.count(16) == 0);
  auto ev = [&](uint64_t goid) {
    REQUIRE(by_goid.count(goid));
    return by_goid.at(goid);
  };
  CHECK(ev(10).in_flight);
  CHECK_FALSE(ev(10).blocked_long);  // a request is in flight, never "blocked long"
  for (uint64_t goid : {11, 12}) {
    INFO(goid);
    CHECK(ev(goid).blocked_long);
    CHECK(ev(goid).from_request);
    CHECK(ev(goid).at_attach == 1);
  }
  CHECK(ev(11).unreachable);
  CHECK_FALSE(ev(12).unreachable);
  CHECK(ev(13).blocked_long);        // on a channel at both readings...
  CHECK_FALSE(ev(13).from_request);  // ...but net/http's own go statement is the connection's, not the request's
  CHECK(ev(14).blocked_long);
  CHECK_FALSE(ev(14).from_request);
  CHECK_FALSE(ev(15).blocked_long);
  CHECK(ev(15).from_request);
  CHECK(ev(15).at_attach == 0);

  // Grouped by parked stack, go statement and start: the two Watchdog leaks
  // are one group, split into two evidence combinations.
  REQUIRE(s.groups.size() == 5);
  const GoroutineGroup* watchdog = nullptr;
  for (const auto& grp : s.groups)
    if (grp.start_function == "main.Watchdog.func1.1") watchdog = &grp;
  REQUIRE(watchdog);
  CHECK(watchdog->count == 2);
  CHECK(watchdog->at_attach == 2);
  CHECK(watchdog->blocked_s == Approx(10));
  CHECK(watchdog->evidence.size() == 2);
  uint64_t counted = 0;
  for (const auto& e : watchdog->evidence) counted += e.count;
  CHECK(counted == 2);
  CHECK(watchdog->states == std::vector<std::pair<std::string, uint64_t>>{{"chan receive", 2}});
}
