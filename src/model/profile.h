// Profile: one plain, serialisable snapshot of a recording. Every reporter
// reads a Profile and nothing else; `mwscope report profile.json` re-renders
// one without the target. Schema: docs/profile.md.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mws {

// One source-level frame. A machine return address may expand to several
// frames when calls were inlined (the inlined ones have inlined = true and
// come before the physical function that contains them).
//
// A profile holds each distinct frame once (Profile::frames) and stacks name
// them by index: a million stacks share a few thousand frames, so a stack
// costs 4 bytes a frame instead of two strings.
struct Frame {
  std::string function;  // exactly as Go prints it: "main.Logging.func1"
  std::string file;      // empty when unknown
  uint32_t line = 0;     // 0 when unknown
  bool inlined = false;
  bool operator==(const Frame&) const = default;
  auto operator<=>(const Frame&) const = default;
};

using FrameId = uint32_t;  // index into Profile::frames

// Closure -> the function that made it (Profile::closure_owners); looked up
// by string_view, without a string per lookup.
using ClosureOwners = std::map<std::string, std::string, std::less<>>;

// Of a stack's allocations, those made by goroutines whose chain of `go`
// statements is Profile::spawn_chains[chain] (goroutine creation tracked).
struct SpawnShare {
  uint32_t chain = 0;
  uint64_t objects = 0, bytes = 0;  // sampled: estimates, scaled as the stack's
  uint64_t samples = 0;             // sampled: raw
  bool operator==(const SpawnShare&) const = default;
};

// The `go` statements that led to a goroutine: its own creation stack first,
// then its creator's, and so on up to a goroutine created before recording
// (or the depth cap, bpf/events.h MWS_SPAWN_CTX_MAX_DEPTH).
struct SpawnChain {
  std::vector<std::vector<FrameId>> creation_stacks;  // each leaf first, cut at its go statement
  // The middleware that started this work: the innermost middleware of the
  // first creation stack (nearest generation first) that has one; "" if none.
  std::string middleware;
  bool operator==(const SpawnChain&) const = default;
};

// A count of goroutines per spawn chain (Profile::spawn_chains[chain]).
struct ChainCount {
  uint32_t chain = 0;
  uint64_t count = 0;
  bool operator==(const ChainCount&) const = default;
};

// Of a stack's allocations (or a goroutine group's), those made for the
// requests that took route Profile::routes[route] (--by-route).
struct RouteShare {
  uint32_t route = 0;
  uint64_t objects = 0, bytes = 0;  // sampled: estimates, scaled as the stack's
  uint64_t samples = 0;             // sampled: raw
  bool operator==(const RouteShare&) const = default;
};

// Goroutines of a group alive at the end, per route of the request whose
// goroutine started them (Profile::routes[route]). (Not those spawned: a
// count per request and group until the route is known grew with every
// request served.)
struct RouteTaskCount {
  uint32_t route = 0;
  uint64_t live = 0, leaked = 0;
  bool operator==(const RouteTaskCount&) const = default;
};
// The count of `route` in `counts`, added (zero) when absent.
RouteTaskCount& route_count(std::vector<RouteTaskCount>& counts, uint32_t route);

// One route: what a router matched for a request, named by the router's
// pattern and the request's method ("GET /items/{id}"), never by a raw path;
// or one of the pseudo-routes kRouteNone..kRouteOther below.
struct ProfileRoute {
  std::string name;
  std::string router;     // "net/http.ServeMux", "gin", "chi", "echo", "gorilla/mux"; "" for a pseudo-route
  uint64_t requests = 0;  // requests that took it while recording (0 for "(no request)")
  bool operator==(const ProfileRoute&) const = default;
};
// A request no router matched (404, 405, a redirect) or that never reached
// one (a middleware answered it first).
inline constexpr std::string_view kRouteNone = "(no route)";
// Work outside every request: background goroutines, and net/http's own
// between two requests of a connection.
inline constexpr std::string_view kRouteNoRequest = "(no request)";
// Routes past the cap on distinct routes (a hostile or buggy target).
inline constexpr std::string_view kRouteOther = "(other routes)";
// A request whose route event was lost (ring buffer full).
inline constexpr std::string_view kRouteLost = "(route lost)";

// What --by-route recorded.
struct RouteSummary {
  bool recorded = false;
  std::string unavailable;              // why not, when not
  std::vector<std::string> routers;     // routers probed, "net/http.ServeMux (go1.22 patterns)"
  std::vector<std::string> refused;     // routers present but not probed, and why
  uint64_t route_events = 0;            // route site hits seen
  uint64_t truncated = 0, read_errors = 0;  // route events whose pattern was cut, or unreadable
  uint64_t over_cap = 0;                // route events beyond the cap on distinct routes
  uint64_t no_room = 0;                 // requests whose state the kernel map could not hold: no route
  bool operator==(const RouteSummary&) const = default;
};

// One allocation site. In exact mode objects/bytes are counted; in sampled
// mode (meta.mode == "sampled") they are estimates scaled from the Go
// runtime's heap samples the way pprof scales them, and the raw sample
// counts are kept beside them, never replaced.
struct ProfileStack {
  std::vector<FrameId> frame_ids;  // innermost (leaf) first, outermost (root) last
  uint64_t objects = 0;       // allocations with this stack (sampled: estimate)
  uint64_t bytes = 0;         // their bytes (exact: requested; sampled: the runtime's size, estimate)
  std::string type;           // Go type allocated ("context.valueCtx", "[]uint8"); empty if unknown
  std::string middleware;     // owning middleware ("main.Logging"), "(server)" outside all; empty if not attributed
  // Sampled mode only (0 in exact mode). What runtime.mProf_Malloc
  // reported for this stack while recording:
  uint64_t samples = 0, sample_bytes = 0;  // sampled allocations, raw
  // Sampled objects of this stack (allocated before or while recording)
  // freed while recording, raw, as the runtime's own memory profile counts
  // frees: its buckets' counts at the end minus at attach, each as of the
  // last GC before that reading (like inuse_*). 0 when the heap profile
  // was not read (meta.heap_read false).
  uint64_t freed_samples = 0, freed_sample_bytes = 0;
  // The heap in use at this stack, in every mode, from the runtime's own
  // memory profile (runtime.mbuckets) read at the end: as of the last GC
  // before it, what runtime.MemProfile and pprof's inuse_space report.
  // Raw (the runtime's samples; objects when MemProfileRate is 1) and
  // scaled as pprof scales them. Stacks that only hold memory (nothing
  // allocated while recording) have objects == 0 and no type.
  int64_t inuse_samples = 0, inuse_sample_bytes = 0;
  int64_t inuse_objects = 0, inuse_bytes = 0;
  // The same at the end minus at attach (scaled): what this stack kept or
  // let go of while recording. Negative when it shrank.
  int64_t inuse_change_objects = 0, inuse_change_bytes = 0;
  // Sampled mode: of `objects`, those scaled from samples of 16 bytes, the
  // size of a tiny block. A tiny allocation (under 16 B, no pointers) is
  // sampled only when it starts a block, as the whole block, so each of
  // these may stand for several allocations (ProfileMeta::tiny_allocs).
  uint64_t tiny_block_objects = 0;
  // Of objects/bytes/samples, the parts made in goroutines created while
  // recording, per spawn chain (empty when goroutines were not tracked).
  std::vector<SpawnShare> spawned_by;
  // Of objects/bytes/samples, the parts per route (--by-route; empty
  // otherwise). They sum to the stack's own.
  std::vector<RouteShare> by_route;
  bool operator==(const ProfileStack&) const = default;
};

// Goroutines created during the recording with the same creation stack
// and start function.
struct TaskGroup {
  std::vector<FrameId> creation_frame_ids;  // leaf first: [0] is the frame that executed the go statement
  std::string start_function;         // the goroutine's function (g.startpc)
  uint64_t spawned = 0;               // created during the recording
  uint64_t ended = 0;                 // of those, ended during the recording
  uint64_t live = 0;                  // of those, alive when the recording stopped
  // Of the live ones, leaked by the verdict on the reading at the end
  // (GoroutineGroup: started per request and blocked at least the leak
  // age, or unreachable, or Go says); without that reading, older than
  // the leak age.
  uint64_t leaked = 0;
  double oldest_age_s = 0;            // age of the oldest live one
  double growth_per_min = 0;          // (spawned - ended) per minute of recording
  // How the live ones wait, read from the target's memory at the end:
  // {"chan receive", 50}, ... most first. Empty when not readable.
  std::vector<std::pair<std::string, uint64_t>> states;
  std::string middleware;  // the middleware in whose code the go statement ran; "(server)" if none
  // The leaked ones by their creator's spawn chain (Profile::spawn_chains),
  // for goroutines created by goroutines created while recording.
  std::vector<ChainCount> leaked_by_creator_chain;
  // Per route of the request their creator served (--by-route).
  std::vector<RouteTaskCount> by_route;
  bool operator==(const TaskGroup&) const = default;
};

// Goroutines alive when the probes went live, grouped by where they were
// created (g.gopc) and their start function.
struct PreexistingTaskGroup {
  std::string created_by;  // function of the go statement
  std::string start_function;
  uint64_t alive_at_attach = 0;
  bool operator==(const PreexistingTaskGroup&) const = default;
};

struct TaskSummary {
  bool tracked = false;             // false: see unavailable_reason
  std::string unavailable_reason;
  std::string offsets_source;       // "DWARF" or "table go1.19"
  double leak_age_s = 30;           // live longer than this = leaked
  uint64_t spawned = 0, ended = 0, live_at_end = 0, leaked = 0;
  uint64_t preexisting_at_attach = 0;  // alive when probes went live
  uint64_t preexisting_ended = 0;      // of those, seen ending
  uint64_t dropped = 0;                // spawn/exit events lost (BPF read errors, limits)
  std::vector<TaskGroup> groups;       // every group with spawned > 0, most leaked first
  std::vector<PreexistingTaskGroup> preexisting;
  bool operator==(const TaskSummary&) const = default;
};

// What was known of goroutines at the end, each one's evidence, counted per
// combination (a group holds a few combinations, most often one). The
// leak verdict (attribute/leak_verdict.h) is decided from these.
struct GoroutineEvidence {
  // Blocked at least the leak age on a wait that can leak: a channel,
  // select, lock or condition (not I/O, a timer or a system call).
  bool blocked_long = false;
  // What it waits on is referenced by nothing outside the blocked
  // goroutines (target/go_reachability.h), on two looks.
  bool unreachable = false;
  bool go_says = false;       // _Gleaked: Go's own detector (1.26+) marked it
  // One of its creators served a request: its creation stack (tracked) or a
  // creator read through g.parentGoid (Go 1.21+) runs a request goroutine
  // (interpret/goroutine_origin.h).
  bool from_request = false;
  // It serves a request itself and has been blocked inside the handler at
  // least the leak age (any wait): a request stuck in flight, not a leak.
  bool in_flight = false;
  // A channel wait the reachability scan did not decide (cut short).
  bool undecided = false;
  uint64_t count = 0;
  uint64_t at_attach = 0;  // of count, alive at attach
  bool operator==(const GoroutineEvidence&) const = default;
};

// Goroutines read from the target's memory at the end (every mode, no
// probe), grouped as the runtime's goroutine profile groups them (same
// current stack) and by where they were created and their start function.
struct GoroutineGroup {
  std::vector<FrameId> frame_ids;           // where they are parked, leaf first; empty when running
  std::vector<FrameId> creation_frame_ids;  // the go statement (g.gopc), leaf first; empty for main
  std::string start_function;               // g.startpc
  uint64_t count = 0;
  // Goroutines of this same group (same stack, go statement and start) at
  // attach: count - at_attach is how much it grew while recording. A leak
  // still growing grows here; one that grew before attach is flat.
  uint64_t at_attach = 0;
  std::vector<GoroutineEvidence> evidence;  // interpret: per combination, most first
  // --by-route, goroutines created while recording: per route of the
  // request whose goroutine started them, how many and how many leaked.
  // Goroutines with no route are in none.
  std::vector<RouteTaskCount> by_route;
  // The verdict (attribute/leak_verdict.h), each goroutine in one of
  // leaked, in_flight, long_lived, suspect, or none (not blocked long):
  //  - leaked: unreachable, or Go says, or started per request and
  //    blocked at least the leak age;
  //  - in_flight: a request blocked inside its handler that long;
  //  - long_lived: blocked that long, started at start-up (no request in
  //    its chain), not unreachable: by design, never a leak;
  //  - suspect: blocked that long, neither: its group grew while
  //    recording, or the reachability scan did not reach it.
  // "request" when its go statement is in handler or middleware code;
  // "start-up" otherwise (a creator serving a request is per goroutine, in
  // evidence).
  std::string origin;
  uint64_t leaked = 0;
  uint64_t leaked_before_attach = 0;  // of `leaked`, those alive at attach
  // Why, for the leaked ones (a goroutine can have more than one reason).
  uint64_t leaked_unreachable = 0, leaked_go_says = 0, leaked_per_request = 0;
  uint64_t in_flight = 0, long_lived = 0, suspect = 0;
  // The longest any of them has been blocked, a lower bound: since the GC
  // that first saw it blocked (g.waitsince), or the recording's length when
  // it waited for the same thing at attach and at the end; for one created
  // while recording (--goroutines), its age. 0 = unknown.
  double blocked_s = 0;
  std::vector<std::pair<std::string, uint64_t>> states;  // {"chan receive", 40}, most first
  std::string middleware;  // the middleware in whose code they were created or are parked; "(server)" if none
  bool operator==(const GoroutineGroup&) const = default;
};

// The reachability scan behind "unreachable" (target/go_reachability.h).
struct ReachabilityScan {
  bool ran = false;
  std::string problem;          // why it did not run, or how it was cut short
  bool cut_short = false;       // budget hit: undecided waits are suspect, not leaked
  uint64_t candidates = 0;      // channel waits it looked at
  uint64_t unreachable = 0;     // of them, proven unreachable
  uint64_t bytes_scanned = 0;
  double seconds = 0;
  bool operator==(const ReachabilityScan&) const = default;
};

struct GoroutineSnapshotSummary {
  bool read = false;        // false: problem says why
  std::string problem;
  uint64_t at_attach = 0;   // goroutines (user and runtime) alive at attach
  uint64_t total = 0;       // user goroutines at the end (what the goroutine profile lists)
  uint64_t total_at_attach = 0;  // user goroutines at attach, counted as `total` is
  double duration_s = 0;         // between the two readings (the recording), for growth per minute
  uint64_t runtime = 0;     // the runtime's own at the end (GC workers...), not in groups
  // Sums of the groups' verdicts (GoroutineGroup).
  uint64_t leaked = 0, in_flight = 0, long_lived = 0, suspect = 0;
  double leak_age_s = 30;
  ReachabilityScan reachability;
  // Wall time of the end reading (every g and its parked stack): the
  // target is not stopped for it, process_vm_readv reads while it runs.
  double read_s = 0;
  double decide_s = 0;  // grouping them and gathering each one's evidence (the reading and the scan apart)
  std::vector<GoroutineGroup> groups;  // most leaked first, then most
  bool operator==(const GoroutineSnapshotSummary&) const = default;
};

// --threads: the target's OS threads. Live ones at the end are grouped by
// what holds them: a goroutine in a cgo call or a system call (its stack
// and the go statement that started it), a goroutine locked to the thread
// (runtime.LockOSThread), a running goroutine, nothing (an idle M), or, for
// a thread that is no Go M (C threads, every thread of a C process), what
// the kernel says about it (name, system call, wchan).
struct ThreadGroup {
  std::string holder;  // "cgo call", "system call", "locked goroutine", "running goroutine", "idle", "not a Go thread"
  std::string state;   // the goroutine's state ("chan receive"); for a non-Go thread "read, pipe_read"
  std::string comm;    // the threads' name (/proc/PID/task/TID/comm)
  std::vector<FrameId> frame_ids;           // the holding goroutine's stack, leaf first; for a
                                            // non-Go thread created while recording, its creator's stack
  std::vector<FrameId> creation_frame_ids;  // the holding goroutine's go statement (g.gopc), leaf first
  std::string start_function;               // the holding goroutine's function (g.startpc)
  std::string middleware;                   // the middleware whose code started the goroutine; "(server)" if none
  uint64_t count = 0;
  uint64_t created_while_recording = 0;     // of count
  std::vector<uint32_t> tids;               // ascending
  bool operator==(const ThreadGroup&) const = default;
};

// Threads created while recording, by their creator's user stack.
struct CreatedThreadGroup {
  std::vector<FrameId> frame_ids;  // the creator's stack at clone, leaf first (frame pointers: may be short)
  std::string comm;                // the creator's name
  uint64_t created = 0, exited = 0;
  bool operator==(const CreatedThreadGroup&) const = default;
};

struct ThreadSummary {
  bool recorded = false;  // --threads was given
  // Why a part is missing (e.g. the Go runtime's Ms could not be read, so
  // holders are unknown); empty when complete.
  std::string problem;
  uint64_t live_at_start = 0, live_at_end = 0;  // /proc/PID/task, as the window opened and after it closed
  uint64_t created = 0, exited = 0;  // while recording; exited counts those that existed at attach too
  uint64_t dropped = 0;              // events lost (ring buffer full, over the limit)
  uint64_t go_threads = 0;           // of live_at_end, Go Ms (runtime.allm)
  std::vector<ThreadGroup> groups;   // every live thread at the end, most first
  std::vector<CreatedThreadGroup> created_groups;  // most created first
  bool operator==(const ThreadSummary&) const = default;
};

// A name with counts: a site ("main.Logging.func1 main.go:116") or a type.
struct NamedCount {
  std::string name;
  uint64_t objects = 0, bytes = 0;
  int64_t inuse_bytes = 0;  // in use as of the last GC before the end (ProfileStack::inuse_bytes)
  bool operator==(const NamedCount&) const = default;
};

// One middleware (or final handler, or "(server)" for everything outside
// the chains): what it allocated itself and what ran below it.
struct MiddlewareRow {
  std::string name;                 // "main.Logging", "main.authMiddleware"
  uint64_t objects = 0, bytes = 0;  // self: allocations this row owns (attribute/middleware_rules.h, owning_row)
  uint64_t inclusive_objects = 0, inclusive_bytes = 0;  // this one anywhere in the chain
  double objects_per_request = 0, bytes_per_request = 0;  // self / requests; 0 when not counted
  // Sampled mode: raw samples behind objects/bytes.
  uint64_t samples = 0;
  // The heap it holds (self, ProfileStack::inuse_*) at the end, its change
  // since attach and that change per minute: which middleware retains memory.
  int64_t inuse_objects = 0, inuse_bytes = 0, inuse_change_bytes = 0;
  double inuse_bytes_per_min = 0;
  // Sampled mode: its share of meta.tiny_allocs, by its tiny_block_objects
  // among all stacks': the allocations the sampler missed here (estimate).
  uint64_t tiny_allocs_missed = 0;
  uint64_t leaked_tasks = 0;        // leaked goroutines created in its code
  uint64_t live_tasks = 0;
  // Via goroutines (goroutine creation tracked): what goroutines it started
  // did, transitively (those goroutines' goroutines too), whatever their own
  // stacks hold; beside self, not part of it. Sampled: estimates and samples.
  uint64_t via_objects = 0, via_bytes = 0, via_samples = 0;
  double via_objects_per_request = 0, via_bytes_per_request = 0;
  uint64_t via_leaked_tasks = 0;  // leaked goroutines created by goroutines it started
  // Of self, what goroutines some middleware started made (for "(server)":
  // the work that middleware handed to goroutines, shown as theirs via goroutines).
  uint64_t self_via_middleware_objects = 0, self_via_middleware_bytes = 0;
  std::vector<NamedCount> top_sites;  // by bytes
  std::vector<NamedCount> top_types;  // by bytes
  bool operator==(const MiddlewareRow&) const = default;
};

struct MiddlewareChain {
  std::vector<std::string> names;  // outermost first
  uint64_t objects = 0, bytes = 0;  // allocated under this chain
  bool operator==(const MiddlewareChain&) const = default;
};

struct RequestCount {
  bool counted = false;
  uint64_t requests = 0;  // HTTP requests served while recording
  std::string note;       // why not counted, when not
  bool operator==(const RequestCount&) const = default;
};

// What a --middleware pattern matched.
struct RuleMatch {
  std::string pattern;
  uint64_t frames_matched = 0;
  std::vector<std::string> functions;  // distinct functions matched (first few)
  bool operator==(const RuleMatch&) const = default;
};

// The C heap (--c-heap): glibc's allocator in the target, per allocation
// stack. Frames, leaf first: the allocator function ("malloc"), the C code
// that called it, then, in a Go target, the Go stack of the goroutine whose
// cgo call it was (runtime.cgocall and its callers).
struct CHeapStack {
  std::vector<FrameId> frame_ids;
  std::string middleware;  // the Go middleware on the stack; "(server)" if none; "" when not attributed
  uint64_t allocs = 0, bytes = 0;        // allocated while recording
  uint64_t frees = 0, freed_bytes = 0;   // of those, freed while recording
  uint64_t inuse_objects = 0, inuse_bytes = 0;  // of those, still allocated at the end
  double oldest_inuse_age_s = 0;         // age at the end of the oldest still allocated
  bool operator==(const CHeapStack&) const = default;
};

struct CHeapMiddlewareRow {
  std::string name;
  uint64_t allocs = 0, bytes = 0, inuse_objects = 0, inuse_bytes = 0;
  bool operator==(const CHeapMiddlewareRow&) const = default;
};

struct CHeapSummary {
  bool recorded = false;
  std::string unavailable;  // why not, when asked for and not recorded
  std::string libc;         // the libc probed, as the target maps it
  std::string go_stacks_unavailable;  // Go target: why C allocations carry no Go stack
  uint64_t allocs = 0, bytes = 0, frees = 0, freed_bytes = 0, inuse_objects = 0, inuse_bytes = 0;
  // free() of blocks allocated before attach: counted, never matched to a
  // stack; their size is glibc's chunk size (header and rounding included).
  uint64_t frees_before_attach = 0, chunk_bytes_freed_before_attach = 0;
  uint64_t without_go_stack = 0;  // Go target: allocations on threads with no goroutine in a cgo call
  uint64_t dropped = 0;           // ring buffer full or a table over its limit
  uint64_t unmatched_returns = 0; // allocator returns whose entry was not seen (calls under way at attach)
  std::vector<CHeapStack> stacks;           // most in use first, then most bytes
  std::vector<CHeapMiddlewareRow> middleware;  // most in use first (filled by attribution)
  bool operator==(const CHeapSummary&) const = default;
};

// What was recorded, from where, and what was lost.
struct ProfileMeta {
  std::string tool_version;
  int32_t pid = 0;
  std::string executable;   // path of the target's executable as opened
  std::string go_version;   // "go1.19.8", empty when not Go
  std::string mode;         // "sampled" (the Go runtime's heap sampler) or "exact" (every allocation)
  bool allocations_tracked = true;  // false: stacks is empty, allocations_unavailable says why
  std::string allocations_unavailable;  // "not requested (--no-allocs)", or the target's sampler is off
  uint64_t started_unix_ns = 0;
  double duration_s = 0;    // wall time the probes were live
  uint32_t probes_attached = 0;
  uint64_t events = 0;        // events received and aggregated
  uint64_t dropped_events = 0;  // lost in BPF (ring buffer full) or over a limit in userspace
  // Of those, by cause: the ring buffer was full (userspace fell behind;
  // --ringbuf-mb), a new stack or goroutine past a table's limit (2^20
  // stacks), and the rest (malformed events, unreadable goroutine fields).
  uint64_t dropped_ring_full = 0, dropped_over_limit = 0;
  uint64_t stack_errors = 0;    // events recorded without a usable stack
  uint64_t truncated_stacks = 0;  // stacks cut at MWS_MAX_STACK_DEPTH
  // What the report leaves out and why, when building it ran out of memory
  // ("allocation stacks: out of memory ..."); empty when it is complete.
  std::string cut;
  // Sampled mode only.
  uint64_t sample_rate = 0;  // the target's runtime.MemProfileRate (bytes between samples on average)
  // Sampled objects freed while recording (counted as freed_samples is)
  // whose allocation was sampled before attach at a stack never seen
  // since: counted, not attributed.
  uint64_t unattributed_free_samples = 0, unattributed_free_bytes = 0;
  // Tiny allocations the runtime packed into a block already started while
  // recording (its own count, flushed per span and per GC): the heap
  // sampler never sees them, so estimated objects are low by this many in
  // all, at the stacks with tiny_block_objects.
  uint64_t tiny_allocs = 0;
  // Spawn contexts (goroutine creation tracked): goroutines whose context
  // the BPF map could not keep (full), and allocations whose context named
  // no chain we saw created (its spawn event lost): both charged by their
  // own stack only.
  uint64_t spawn_ctx_lost = 0, spawn_unresolved_objects = 0;
  bool tiny_allocs_counted = false;  // false: the runtime's flush points were not probed, tiny_allocs unknown
  // The heap in use (ProfileStack::inuse_*), read from the runtime's memory
  // profile at attach and at the end, in every mode and without a probe.
  bool heap_read = false;         // false: heap_problem says why, and every inuse_* is 0
  std::string heap_problem;
  uint64_t heap_profile_rate = 0; // runtime.MemProfileRate then: 1 = every object; more: estimates
  uint64_t gc_cycles = 0;         // GCs the runtime completed between the readings (0: no change can show)
  uint64_t heap_unreadable_buckets = 0;  // buckets that read torn (changing as we read) and were skipped
  double heap_read_s = 0;                // wall time of the end reading (the target runs on meanwhile)
  bool operator==(const ProfileMeta&) const = default;
};

// "runtime.", "runtime/internal/..." and "internal/..." functions: the
// allocator and the runtime helpers that call it for user code.
bool is_runtime_function(std::string_view function);

// The allocation site of a stack, the one definition every report and the
// attribution use: the index in `frame_ids` (leaf first) of the first frame
// that is not a runtime function, or 0 when every frame is (the runtime
// allocating for itself keeps its leaf frame). frame_ids must not be empty.
struct Profile;
size_t site_frame_index(const Profile& profile, const std::vector<FrameId>& frame_ids);

// The function a goroutine group is parked in, as sites are defined (its
// first non-runtime frame); "[running]" for a group with no parked stack.
std::string parked_function(const Profile& profile, const GoroutineGroup& group);

// The evidence of a group's leaked goroutines, for a "why" column:
// "unreachable", "per request", "Go says", joined by "+"; "" when none.
std::string leak_why(const GoroutineGroup& group);

struct Profile {
  ProfileMeta meta;
  std::vector<Frame> frames;         // each distinct frame once; stacks refer to them by FrameId
  std::vector<ProfileStack> stacks;  // unordered; each distinct stack once
  TaskSummary tasks;
  GoroutineSnapshotSummary goroutines;  // every goroutine at the end, read from memory
  ThreadSummary threads;                // --threads
  RequestCount requests;
  std::vector<MiddlewareRow> middleware;  // sorted by self bytes, most first
  std::vector<MiddlewareChain> chains;    // distinct chains seen, heaviest first
  std::vector<SpawnChain> spawn_chains;   // ProfileStack::spawned_by names them by index
  std::vector<ProfileRoute> routes;       // ProfileStack::by_route and TaskGroup::by_route name them by index
  RouteSummary route_summary;
  std::vector<RuleMatch> user_rules;
  CHeapSummary c_heap;
  // Closures that Go renamed after inlining, and the function that made
  // each ("main.main.stampMW.func1" -> "main.stampMW"): middleware are
  // named after their maker (symbolize/go_closure_names.h).
  ClosureOwners closure_owners;
  bool operator==(const Profile&) const = default;

  const Frame& frame(FrameId id) const { return frames[id]; }
  uint64_t total_objects() const;
  uint64_t total_bytes() const;
  bool sampled() const { return meta.mode == "sampled"; }
  bool inuse_known() const { return meta.heap_read; }
};

}  // namespace mws
