// Loads bpf/go.bpf.c and attaches its programs to a Go target: the
// allocator entry, newproc1's RET instructions, goexit1's entry.
// BPF links are owned by file descriptors held here; destroying GoProbes
// (or mwscope dying) detaches everything. Nothing is pinned.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "util/result.h"

struct go_probes;
struct bpf_map;
struct bpf_link;

namespace mws::probes {

struct ProbeSite {
  std::string binary_path;   // file to attach to
  std::string symbol;        // for messages: "runtime.mallocgc"
  uint64_t file_offset = 0;  // uprobe offset in the file
  uint64_t vaddr = 0;        // link-time address of the probed instruction
  std::string placement;     // "prologue jump", "entry", "RET"
  bool on_stack_check_jump = false;  // placement == "prologue jump": see MWS_COOKIE_STACK_CHECK_JUMP
};

// A router's route site (probes/route_sites.h) and how on_route reads
// the pattern there.
struct RouteProbe {
  ProbeSite site;
  mws_route_site spec{};
};

// What to attach. Empty optional parts are not attached.
struct GoProbePlan {
  std::vector<ProbeSite> alloc;          // allocator entry points (exact mode): runtime.mallocgc, ...
  mws_allocator_ranges allocator_ranges{};  // allocator code, link-time (exact mode)
  // Size-specialised builds: alloc holds the entry points and the paths
  // runtime.mallocgc calls, not mallocgc, so that no allocation traps twice;
  // a hit called from allocator code is its first outside caller's.
  bool mallocgc_entry_unprobed = false;
  // Sampled mode: the Go runtime's heap sampler.
  std::vector<ProbeSite> sample_alloc;   // runtime.mProf_Malloc entry
  std::vector<ProbeSite> tiny_refill;       // the load of c.tinyAllocs in runtime.(*mcache).refill's tiny-span branch
  std::vector<ProbeSite> tiny_release_all;  // runtime.(*mcache).releaseAll entry
  mws_mprof_args mprof_args{0, 1, 32, MWS_REG_NONE};
  std::vector<ProbeSite> spawn;          // newproc's CALL runqput (the new g in RBX)
  std::vector<ProbeSite> spawn_newproc1_ret;  // every RET of runtime.newproc1, when spawn was not found
  std::vector<ProbeSite> spawn_coro;     // every RET of runtime.newcoro (go1.22+)
  bool tracks_goroutines() const { return !spawn.empty() || !spawn_newproc1_ret.empty(); }
  std::vector<ProbeSite> exit;           // runtime.goexit1 entry (g in R14)
  std::vector<ProbeSite> exit_gdestroy;  // runtime.gdestroy entry (g in RAX), Go >= 1.22
  std::vector<ProbeSite> requests;       // net/http.serverHandler.ServeHTTP entry
  // --by-route: every router's route site; request state is kept (in the
  // requests probe) only with some.
  std::vector<RouteProbe> routes;
  mws_go_offsets offsets{-1, -1, -1, 0, -1};
  // Spawn contexts: enabled when goroutine creation is tracked and the g/m
  // offsets are known (bpf/events.h).
  mws_spawn_ctx_offsets spawn_ctx{0, 0, -1, -1, -1};
  mws_code_range goexit_code{};  // runtime.goexit, link-time: where every goroutine's stack ends
  mws_code_range request_code{}; // net/http.serverHandler.ServeHTTP, link-time: a stack through it serves a request
  // Sampled mode with routes: where (*conn).serve keeps a request's response
  // (bpf/events.h, "Routes"); ret 0: not found, routes need the requests probe.
  mws_request_key_site request_key{};
};

struct GoProbeOptions {
  pid_t pid = 0;
  uint64_t ringbuf_bytes = 32ull << 20;  // power of two
  bool empty_programs = false;  // benchmark baseline: every probe runs on_empty
  // Exact mode with routes: how many allocation keys a request holds in the
  // kernel before its router runs (bpf/events.h, request_pending). Fewer
  // only in tests, which make requests overflow into serial keys.
  uint32_t pending_slots = MWS_PENDING_SLOTS;
};

struct BpfCounters {
  uint64_t ringbuf_drops = 0, stack_errors = 0, task_read_errors = 0;
  uint64_t requests = 0;
  uint64_t request_state_full = 0;  // --by-route: requests whose state found no room (bpf/events.h)
  uint64_t pending_lost = 0;  // exact --by-route: allocations a request held that alloc_counts had no room for
  uint64_t tiny_allocs = 0;  // sampled mode: tiny allocations the runtime flushed while recording
  uint64_t spawn_ctx_lost = 0;  // goroutines whose spawn context the full map could not keep
};

class GoProbes {
 public:
  static Result<std::unique_ptr<GoProbes>> attach(const GoProbePlan& plan, const GoProbeOptions& opt);
  ~GoProbes();
  GoProbes(const GoProbes&) = delete;
  GoProbes& operator=(const GoProbes&) = delete;

  bpf_map* events_map() const;
  BpfCounters read_counters() const;
  // Exact mode: the in-kernel allocation counts so far (alloc_counts), every
  // CPU's summed, one call per key.
  void for_each_alloc_count(
      const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit) const;
  // Exact mode with routes: what requests allocated before their router
  // ran and the kernel still holds in request_pending (bpf/events.h), under
  // each request's serial. Read it once the probes are detached: while they
  // run, a route site may move the slots into alloc_counts between the two
  // reads, and the counts would be missed or counted twice.
  void for_each_pending_count(
      const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit) const;
  // Gives a goroutine that existed before attach a spawn context (made from
  // its go statement, read from its g), unless BPF gave it one meanwhile,
  // by g and by goid (bpf/events.h). False when the map had no room.
  // Exact mode: takes out of the kernel's counts the keys `take` picks,
  // visiting each with its counts summed. Only for keys nothing will count
  // under again (a finished request's serial): an increment between the
  // read and the delete would be lost.
  void drain_alloc_counts(const std::function<bool(const mws_alloc_key&)>& take,
                            const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit);
  bool seed_spawn_context(uint64_t g_addr, uint64_t goid, uint64_t ctx) const;
  // The goroutine exits each CPU's batch holds, not yet sent (bpf/events.h),
  // oldest first. Read while the probes run it is a snapshot that BPF may be
  // writing; after detach, the last of them.
  std::vector<mws_task_exit> pending_exits() const;
  uint32_t probes_attached() const { return static_cast<uint32_t>(links_.size()); }
  // Every program counts only while the window is open: opened once all
  // probes are attached, closed before they are detached, at one instant
  // for all of them.
  void open_window();
  void close_window();
  // Detaches every probe now (idempotent); maps stay readable.
  void detach();

 private:
  GoProbes() = default;
  go_probes* skel_ = nullptr;
  std::vector<bpf_link*> links_;
};

}  // namespace mws::probes
