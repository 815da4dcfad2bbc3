/* The kernel/user contract of mwscope: the only header included both by the
 * BPF programs (bpf/NAME.bpf.c) and by userspace (src/). Plain C, fixed-width
 * types only. Changing it is a change to both sides in one commit. */
#ifndef MWSCOPE_EVENTS_H
#define MWSCOPE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest user stack an event carries. Deeper stacks are truncated at the
 * root end and flagged with MWS_FLAG_STACK_TRUNCATED. */
#define MWS_MAX_STACK_DEPTH 127

enum mws_event_kind {
	MWS_EV_ALLOC = 1,      /* one heap allocation (exact mode: an allocator entry point) */
	MWS_EV_TASK_SPAWN = 2, /* a goroutine was created (runtime.newproc1 returned) */
	MWS_EV_TASK_EXITS = 3, /* goroutines ended: a batch of one CPU's exits (mws_task_exits_event) */
	/* Sampled mode: the Go runtime's own heap sampler. */
	MWS_EV_SAMPLE_ALLOC = 4,  /* runtime.mProf_Malloc: a sampled allocation (mws_alloc_event) */
	/* 5 and 6 were runtime.setprofilebucket and runtime.mProf_Free: the frees of
	 * sampled objects now come from the runtime's own profile buckets, read
	 * from memory at both ends (target/go_heap_profile.h), without a trap. */
	/* 7 was a GC end (runtime.gcMarkTermination): in-use now comes from the runtime's own profile. */
	/* Exact mode: the stack behind a key of the in-kernel counts (map
	 * alloc_counts), sent by each CPU the first time it counts that key;
	 * a mws_alloc_event whose `object` carries the key's stack_hash. */
	MWS_EV_ALLOC_STACK = 8,
	MWS_EV_ROUTE = 9, /* a router matched a request (mws_route_event) */
};

/* Exact mode counts allocations in the kernel, per CPU, by (stack hash, Go
 * type): an allocation costs a stack walk, a hash and a map update, and
 * only a stack never seen before crosses the ring buffer. Userspace reads
 * the counts once the probes are detached (and at each --interval). A full
 * map falls back to one MWS_EV_ALLOC event per allocation. */
#define MWS_ALLOC_COUNTS_MAX 65536
struct mws_alloc_key {
	__u64 stack_hash; /* over `caller` and stack[1..stack_len) of the event */
	__u64 type_addr;
	__u64 spawn_ctx; /* the allocating goroutine's spawn context (see below); 0: none */
	__u64 route_tag; /* the allocating goroutine's request (see "Routes" below); 0: none */
};
struct mws_alloc_counts {
	__u64 objects;
	__u64 bytes;
	__u64 stack_sent; /* this CPU delivered the stack (MWS_EV_ALLOC_STACK) */
};

/* Indices of the per-CPU counters array that BPF increments and userspace
 * sums. Loss is never silent: every report prints the drop counters. */
enum mws_counter {
	MWS_CNT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: ring full */
	MWS_CNT_STACK_ERRORS,     /* frame pointer unreadable: event sent without stack */
	MWS_CNT_TASK_READ_ERRORS, /* could not read a g's fields: spawn/exit event lost */
	MWS_CNT_REQUESTS,         /* HTTP requests served (net/http.serverHandler.ServeHTTP) */
	MWS_CNT_TINY_ALLOCS,      /* tiny allocations the runtime flushed (sampled mode; see count_tiny_flush) */
	MWS_CNT_REQUEST_STATE_FULL, /* requests whose goroutine found no room in request_state: no route */
	MWS_CNT_PENDING_LOST,     /* allocations a request held (request_pending) that alloc_counts had no room for */
	MWS_CNT__COUNT,
};

enum mws_event_flags {
	MWS_FLAG_STACK_TRUNCATED = 1u << 0, /* stack deeper than MWS_MAX_STACK_DEPTH */
	MWS_FLAG_NO_CALLER = 1u << 1,       /* could not read the return address at [SP] */
};

/* Every event starts with this header. */
struct mws_event_header {
	__u32 kind; /* enum mws_event_kind */
	__u32 pid;  /* tgid as the kernel sees it (init PID namespace) */
	__u32 tid;
	__u32 flags; /* enum mws_event_flags */
	__u64 ts_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
};

/* An allocation seen at the entry of the allocator.
 * stack[] holds return addresses, innermost first, as BPF's
 * frame-pointer unwinder gives them; stack[0] is the probed instruction's
 * own address. At function entry the caller has not been unwound yet (its
 * return address is at [SP], not behind a frame pointer), so BPF reads it
 * into `caller` and userspace splices it in after stack[0]. */
struct mws_alloc_event {
	struct mws_event_header hdr;
	__u64 size;      /* bytes requested (sampled: the runtime's size for the object) */
	__u64 type_addr; /* Go *_type passed to mallocgc (0 for noscan raw memory; 0 when sampled) */
	__u64 object;    /* sampled: the object's address (not used by userspace); exact: see MWS_EV_ALLOC_STACK */
	__u64 caller;    /* return address at [SP] on entry */
	__u32 stack_len; /* valid entries in stack[] */
	__u32 _pad;
	__u64 spawn_ctx; /* the allocating goroutine's spawn context (see below); 0: none */
	__u64 route_tag; /* the allocating goroutine's request (see "Routes" below); 0: none */
	__u64 stack[MWS_MAX_STACK_DEPTH];
};

/* Register (ABIInternal argument index: 0 RAX, 1 RBX, 2 RCX) of
 * mProf_Malloc's p and size; they moved when Go 1.23 added mp as the
 * first argument. Set in rodata before load. */
struct mws_mprof_args {
	__u32 object_arg;
	__u32 size_arg;
	__u32 mcache_tiny_allocs_offset; /* runtime.mcache.tinyAllocs */
	/* The register holding the mcache at refill's tiny flush (the load of
	 * c.tinyAllocs, found by disassembly): enum mws_reg. */
	__u32 tiny_flush_mcache_reg;
};

/* A general-purpose register of struct pt_regs, named by userspace when
 * disassembly found which one holds a value at a probed instruction.
 * MWS_REG_NONE: not found (the program reads nothing). */
enum mws_reg {
	MWS_REG_NONE = 0,
	MWS_REG_AX, MWS_REG_BX, MWS_REG_CX, MWS_REG_DX, MWS_REG_SI, MWS_REG_DI, MWS_REG_BP,
	MWS_REG_R8, MWS_REG_R9, MWS_REG_R10, MWS_REG_R11, MWS_REG_R12, MWS_REG_R13, MWS_REG_R14, MWS_REG_R15,
};

/* Every uprobe's BPF cookie: the link-time address of the probed
 * instruction, and in the top bit whether it is a Go prologue's
 * stack-check jump (after CMP SP, g.stackguard0). There, CF or ZF set means
 * the function is about to call morestack (to grow its stack, or because
 * the scheduler asked for preemption), which restarts it from its entry:
 * the probe will fire again for the same call, so this hit is not counted. */
#define MWS_COOKIE_STACK_CHECK_JUMP (1ull << 63)
#define MWS_COOKIE_VADDR_MASK (~MWS_COOKIE_STACK_CHECK_JUMP)

/* Exact mode probes every allocator entry point (runtime.mallocgc and the
 * size-specialised allocators of Go 1.26+, which mallocgc also calls): an
 * allocation is counted once, at the outermost one. A probe hit whose
 * caller (the return address at [SP]) lies in one of these link-time
 * [lo, hi) ranges of allocator code is not counted. The probe's cookie
 * (above) gives its link-time address, so the program turns the runtime
 * caller into a link-time one whatever the load address (PIE). Set in
 * rodata before load. */
#define MWS_MAX_ALLOCATOR_RANGES 16
struct mws_code_range {
	__u64 lo;
	__u64 hi;
};
struct mws_allocator_ranges {
	__u32 count;
	__u32 _pad;
	struct mws_code_range range[MWS_MAX_ALLOCATOR_RANGES];
};

/* Byte offsets of the runtime fields the task programs read, from DWARF
 * or the Go ABI table (src/target/go_abi.h); -1 when the version lacks
 * the field. Set in rodata before load. */
struct mws_go_offsets {
	__s64 g_goid;
	__s64 g_startpc;
	__s64 g_gopc;
	__s64 coro_g;        /* coro.gp in runtime.coro (go1.22+) */
	__s64 g_parent_goid; /* g.parentGoid (go1.21+): the creator's goid */
};

/* The length of a direct CALL rel32 (E8 + 4 bytes): at a probe on one, the
 * return address the CALL will push is ip + this. */
#define MWS_CALL_REL32_BYTES 5

/* A goroutine was created. Seen where the new g is handed to the
 * scheduler: newproc's CALL runqput(pp, newg, true), on the system stack
 * (g0), whose frame chain leads back through systemstack to the creating
 * goroutine; or at newcoro's RET for a coroutine; or, when neither site
 * was found, at newproc1's RET. Innermost first like mws_alloc_event:
 * stack[0] is the probed instruction, `caller` the return address of the
 * probed function's frame (at a CALL, the one it will push). */
struct mws_task_spawn_event {
	struct mws_event_header hdr;
	__u64 goid;
	__u64 g_addr;      /* the runtime.g, to read its state later */
	__u64 startpc;     /* the goroutine's function */
	__u64 gopc;        /* return address of the go statement */
	__u64 caller;
	__u32 stack_len;
	__u32 _pad;
	__u64 spawn_ctx;   /* the new goroutine's spawn context (see below) */
	__u64 parent_ctx;  /* its creator's; 0: the creator was not spawned while tracked */
	__u64 route_tag;   /* the request its creator served (MWS_ROUTE_TAG_INHERITED set); 0: none */
	__u64 stack[MWS_MAX_STACK_DEPTH];
};

/* A goroutine is ending: its g (goexit1's R14, gdestroy's argument) and
 * when. Its goid is not read: a read of the target costs as much as the
 * rest of the exit probe, and userspace knows which goroutine is on each g
 * from the spawn events and the goroutines read at attach (Go reuses a g
 * only after its goroutine ended).
 *
 * Exits are batched per CPU (map exit_batch): an exit costs a timestamp
 * and two stores, and one ring record carries a full batch, or a batch
 * whose oldest exit is MWS_EXIT_BATCH_MAX_AGE_NS old. So an exit reaches
 * userspace after later spawns: the timestamp tells an exit from the
 * goroutine now on its g (spawned after it) from one of that goroutine.
 * Userspace reads what is left in the batches at the end, and for each
 * --interval view. */
#define MWS_EXIT_BATCH 16
#define MWS_EXIT_BATCH_MAX_AGE_NS 50000000ull
struct mws_task_exit {
	__u64 g_addr;
	__u64 ts_ns; /* bpf_ktime_get_ns() */
};
struct mws_exit_batch {
	__u32 count; /* exits in exit[] */
	__u32 _pad;
	__u64 oldest_ns;
	struct mws_task_exit exit[MWS_EXIT_BATCH];
};
struct mws_task_exits_event {
	struct mws_event_header hdr;
	struct mws_exit_batch batch;
};

/* ---- The C heap (--c-heap): glibc's allocator in the target's own libc,
 * bpf/native.bpf.c. Event kinds 10-19. ---- */
enum mws_c_event_kind {
	MWS_EV_C_ALLOC = 10, /* an allocator returned a block (mws_c_alloc_event) */
	MWS_EV_C_FREE = 11,  /* free(p) with p != NULL (mws_c_free_event) */
};

/* Which allocator function; the probe's BPF cookie. realloc(old, n) is a
 * free of old and an allocation; posix_memalign(&p, align, n) returns its
 * block through its first argument. */
enum mws_c_alloc_func {
	MWS_C_MALLOC = 1,
	MWS_C_CALLOC,         /* calloc(n, size): n * size bytes */
	MWS_C_REALLOC,        /* realloc(old, size) */
	MWS_C_MEMALIGN,       /* memalign(align, size), aligned_alloc(align, size) */
	MWS_C_POSIX_MEMALIGN, /* posix_memalign(&p, align, size) */
};

enum mws_c_event_flags {
	MWS_C_FLAG_GO_STACK = 1u << 8, /* stack[c_frames..stack_len) is the calling goroutine's Go stack */
	MWS_C_FLAG_GO_UNMATCHED = 1u << 9, /* a goroutine in a syscall, not in runtime.cgocall: no Go stack */
};

/* stack[0..c_frames) are C return addresses, innermost first (stack[0] the
 * allocator's caller); when hdr.flags has MWS_C_FLAG_GO_STACK the rest is
 * the Go stack of the goroutine whose cgo call runs on this thread:
 * runtime.cgocall's return from entersyscall (g.syscallpc), then its
 * callers by frame pointer. */
struct mws_c_alloc_event {
	struct mws_event_header hdr;
	__u64 ptr;     /* the block returned (0: the allocation failed) */
	__u64 size;    /* bytes asked for */
	__u64 old_ptr; /* realloc: the block it replaced (freed when ptr != 0, or when size == 0) */
	__u32 func;    /* enum mws_c_alloc_func */
	__u32 c_frames;
	__u32 stack_len;
	__u32 _pad;
	__u64 stack[MWS_MAX_STACK_DEPTH];
};

struct mws_c_free_event {
	struct mws_event_header hdr;
	__u64 ptr;
	__u64 chunk_bytes; /* glibc's chunk size word at ptr - 8 (flag bits cleared): what a block
			      allocated before attach gave back, header included */
};

/* How BPF finds the goroutine behind a thread that runs C code in a Go
 * target. Go keeps the current g in the thread's TLS; during a cgo call it
 * is g0, and g0.m.curg is the goroutine, in _Gsyscall since entersyscall
 * (g.syscallsp != 0). Go < 1.23 saves no frame pointer there, so BPF
 * rebuilds it: runtime.cgocall's frame pointer is g.syscallsp +
 * cgocall_bp_from_sp (its frame size at that pc, from .gopclntab, less the
 * saved BP). tls_g_offset == 0: not a Go target, or g's TLS slot unknown.
 * Set in rodata before load. */
struct mws_cgo_context {
	__s64 tls_g_offset; /* g = *(fsbase + tls_g_offset) */
	__s64 g_m, m_curg, g_syscallsp, g_syscallpc;
	__u64 cgocall_ret;        /* runtime address of cgocall's return from entersyscall */
	__u64 cgocall_bp_from_sp;
	__u32 walk_c_frames;      /* follow RBP through C frames (plain C targets built with frame pointers) */
	__u32 _pad;
};

enum mws_c_counter {
	MWS_C_CNT_RINGBUF_DROPS = 0, /* ring full: an allocation or free lost */
	MWS_C_CNT_UNMATCHED_RETURNS, /* a return without its entry (attached mid-call) */
	MWS_C_CNT__COUNT,
};

/* ---- OS threads (--threads, bpf/threads.bpf.c): event kinds 20-29 ----
 * Kernel tracepoints, not uprobes: task:task_newtask and
 * sched:sched_process_exit, filtered to the target's tgid in BPF. They
 * see Go's clone-based newosproc and glibc's pthread_create alike, and
 * cost nothing in the target's own code (no trap). */
enum mws_thread_event_kind {
	MWS_EV_THREAD_NEW = 20,  /* a thread of the target created another (clone with CLONE_THREAD) */
	MWS_EV_THREAD_EXIT = 21, /* a thread of the target exited */
};

/* Indices of the threads object's own per-CPU counters array. */
enum mws_thread_counter {
	MWS_TCNT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: ring full */
	MWS_TCNT_STACK_ERRORS,      /* the creator's user stack could not be read */
	MWS_TCNT__COUNT,
};

/* hdr.tid is the new thread; the creator's user stack at the clone, as
 * the kernel's frame-pointer walk gives it (innermost first; stack[0] is
 * the user pc). Code without frame pointers yields a short stack. */
struct mws_thread_new_event {
	struct mws_event_header hdr;
	__u32 parent_tid;
	__u32 stack_len;
	char comm[16]; /* the creator's name (the new thread inherits it) */
	__u64 stack[MWS_MAX_STACK_DEPTH];
};

/* hdr.tid is the exiting thread. */
struct mws_thread_exit_event {
	struct mws_event_header hdr;
	char comm[16];
};

/* ---- Spawn contexts: work done in goroutines a middleware started ----
 * (issue 17; kept in one block so that other additions merge cleanly.)
 *
 * When goroutine creation is tracked, each goroutine created while
 * recording gets a spawn context at creation:
 *     ctx(new) = mix(ctx(creator), hash of the creation stack)
 * (0 for a creator not created while tracked), kept in the BPF hash map
 * spawn_ctx by the new g's address (until a later goroutine reuses the g). Allocations carry the
 * allocating goroutine's context (in the alloc_counts key and in sampled
 * events); userspace resolves a context to its chain of creation stacks
 * from the spawn events, which carry ctx and parent_ctx. Contexts name
 * chains, not goroutines: 10,000 workers started by one middleware line
 * share one context, so exact mode's map grows with the chains only. */
#define MWS_SPAWN_CTX_MAX 131072 /* g structs: Go's peak goroutine count */
/* Deeper generations keep their creator's context (a goroutine that
 * restarts itself would otherwise make a new context each time). */
#define MWS_SPAWN_CTX_MAX_DEPTH 16
struct mws_spawn_ctx {
	__u64 ctx;
	__u32 depth; /* 1: created by a goroutine without a context; 0: ctx is 0 */
	__u32 is_g0; /* the key is an M's g0, which runs for m.curg: ctx unused */
	__u64 m;     /* is_g0: that M (fixed for its g0), so one read finds curg */
};
/* Every goroutine alive at attach gets an entry (userspace seeds it, with
 * its go statement's context or 0), every goroutine created while
 * recording gets one at its spawn, and an M's g0 gets one the first time
 * it allocates or spawns: so an allocation finds its context with one
 * lookup, and reads the target's memory only on the system stack (one
 * read, m.curg) or for a goroutine nobody could seed (g.m and m.g0). */
/* Set in rodata before load. enabled = 0: every context is 0 and nothing
 * is looked up. Where the current g is: R14 in Go ABIInternal code; on the
 * system stack R14 is the M's g0, and the goroutine it runs for is m.curg. */
struct mws_spawn_ctx_offsets {
	__u32 enabled;
	__u32 _pad;
	__s64 g_m;    /* runtime.g.m */
	__s64 m_g0;   /* runtime.m.g0 */
	__s64 m_curg; /* runtime.m.curg */
};
/* A new goroutine's creator is found by its goid: newproc1 writes it into
 * the new g's parentGoid (go1.21+), read with goid, startpc and gopc. The
 * array goid_ctx keeps each goroutine's context at its goid modulo its
 * size (written at its spawn, or seeded), so the creator's context costs
 * an array lookup instead of reading m.curg and two hash lookups. A slot
 * names its goid: a creator whose slot a later goroutine took, or a Go
 * before 1.21, is looked up by g as before. */
#define MWS_GOID_CTX_SLOTS (1u << 18)
struct mws_goid_ctx {
	__u64 goid; /* written last, cleared first: a reader checks it before and after */
	__u64 ctx;
	__u32 depth;
	__u32 _pad;
};

/* Index of the per-CPU array spawn_ctx_lost: contexts that could not be
 * kept (map full): those goroutines' allocations are charged by their own
 * stack only, and the report says how many. */
#define MWS_SPAWN_CTX_LOST_FULL 0
/* ---- end of spawn contexts ---- */

/* ---- Routes: which endpoint a request was (issue 29) ----
 * A request is delimited by net/http.serverHandler.ServeHTTP's entry (the
 * request-count probe, on_request): it gives the goroutine's request_state
 * entry route_tag = MWS_ROUTE_TAG_PENDING | serial, a serial new for each
 * request.
 * A router's probe (on_route, one site per router, docs/design/routes.md)
 * reads the pattern it matched and sets route_tag = the route's id, and
 * sends a mws_route_event naming serial and id. Allocations carry the
 * route_tag of the goroutine that makes them (exact mode: in the key), and
 * goroutines a request started inherit it (MWS_ROUTE_TAG_INHERITED). So an
 * allocation made before the router ran (outer middleware) carries its
 * request's serial, which userspace maps to the route that request took;
 * one made after carries the route itself; a request that never reached a
 * router has a serial no route event names: (no route). A tag without
 * INHERITED is the goroutine's own request only while its stack is inside
 * serverHandler.ServeHTTP (userspace checks): between two requests on a
 * keep-alive connection net/http's own work belongs to neither.
 *
 * Sampled mode does without the request probe (one trap per request, the
 * route site's, where the probe made two): a request is named by a key
 * read where it is needed, at each sample and at the route site, and a
 * key other than the one the goroutine's state holds starts a new serial
 * there. The key is the *http.response (*conn).serve holds for the
 * request (HTTP/1: a connection's goroutine serves its requests one after
 * another, each with a response of its own), read from conn.serve's frame
 * (mws_request_key_site); outside conn.serve (HTTP/2 runs each request
 * on a goroutine of its own) it is the goid. A sample outside
 * serverHandler.ServeHTTP has no request (tag 0) unless its goroutine
 * inherited one. Requests answered before any router ran leave no trace
 * unless sampled: they are counted only with the request probe
 * (--requests). One risk, said in the README: a response and its Request
 * both allocated at the addresses of the ones before them on the same
 * connection (the collector freed them in between) make two requests one. */
#define MWS_ROUTE_TAG_PENDING (1ull << 63)   /* low 48 bits: the request's serial; route not known yet */
#define MWS_ROUTE_TAG_INHERITED (1ull << 62) /* a goroutine started while a request ran, by its goroutine */
#define MWS_ROUTE_TAG_SERIAL_MASK ((1ull << 48) - 1)
#define MWS_ROUTE_TAG_ID_MASK ((1ull << 62) - 1) /* without PENDING: the route id (never 0) */
#define MWS_ROUTE_ID_NONE 1ull                   /* a router saw the request and matched nothing (404, 405, redirect) */

/* Map request_state (hash, by g address): the request each goroutine
 * serves or was started by. Not an LRU: its lookups, on every allocation,
 * would write the entry (its reference bit) from every CPU. It holds one
 * entry per g that served or was started by a request, and Go reuses a g
 * for later goroutines (like spawn_ctx); a full map is counted. */
#define MWS_REQUEST_STATE_MAX 131072
struct mws_request_state {
	__u64 route_tag;
	__u64 serial; /* the request's serial (0: none), kept when route_tag becomes its route */
	__u64 key;    /* sampled mode: the request's key (above); 0 in exact mode */
};

/* Sampled mode: a request key that is a goid (HTTP/2), not a response. */
#define MWS_REQUEST_KEY_GOROUTINE (1ull << 63)
/* Where (*conn).serve keeps the request's response during the call to
 * serverHandler.ServeHTTP (src/probes/route_sites.cpp finds it): the walk
 * meets `ret` as a return address, and the frame pointer saved below it
 * is conn.serve's. Rodata; ret 0: keys are goids only. */
struct mws_request_key_site {
	__u64 ret;      /* link-time address after conn.serve's CALL serverHandler.ServeHTTP */
	__s64 w_bp_off; /* the response's slot, from conn.serve's frame pointer */
	__s64 req_off;  /* the response's *Request (w.req): mixed into the key, so that a response
			   allocated where the last one was still names a new request unless its
			   Request is at its predecessor's address too */
};

/* Map request_pending (exact mode, hash by g address): the allocations a
 * request's goroutine made before its router ran, held in the kernel
 * instead of a key per (request, stack) in alloc_counts. A new key is a
 * hash insert, and every request made several (bpf_stats: on_mallocgc 267
 * ns without routes, 353 with the per-request keys, 281 without them); a
 * slot here is a compare and two adds in an entry the goroutine keeps
 * request after request. The route site folds the slots into alloc_counts
 * under the route (at most MWS_PENDING_SLOTS updates, once per request);
 * a request that never reached a router is folded under its serial when
 * its goroutine starts another request or is reused, or read by userspace
 * at the end. Only the request's own goroutine writes its entry (a
 * goroutine runs on one CPU at a time). More distinct (stack, type,
 * context) than slots, a goroutine that inherited its request, or a full
 * map: the allocation takes a serial key in alloc_counts, as before. */
#define MWS_PENDING_SLOTS 12
#define MWS_REQUEST_PENDING_MAX 16384
struct mws_pending_count {
	__u64 stack_hash;
	__u64 type_addr;
	__u64 spawn_ctx;
	__u64 objects;
	__u64 bytes;
};
struct mws_request_pending {
	__u64 serial; /* whose allocations the slots hold */
	__u32 used;   /* slots filled, from the first */
	__u32 _pad;
	struct mws_pending_count slot[MWS_PENDING_SLOTS];
};

enum mws_router {
	MWS_ROUTER_SERVEMUX = 1,  /* net/http.ServeMux, go1.22+ patterns: "GET /items/{id}" */
	MWS_ROUTER_SERVEMUX_PATH, /* net/http.ServeMux before go1.22, or httpmuxgo121: "/items/" */
	MWS_ROUTER_GIN,
	MWS_ROUTER_CHI,
	MWS_ROUTER_ECHO,
	MWS_ROUTER_GORILLA,
};

/* Where the pattern is at a route site. */
enum mws_route_shape {
	MWS_ROUTE_STRING_REGS = 1, /* a Go string in registers: ptr in `reg`, len in `len_reg` */
	MWS_ROUTE_STRING_AT,       /* obj = reg (then *(obj + deref_off) when deref_off >= 0): the string at obj + pattern_off */
	MWS_ROUTE_STRINGS_AT,      /* obj as above: a []string at obj + pattern_off, joined by userspace (chi) */
};

/* Where the *http.Request is at a route site (its Method is its first field). */
enum mws_route_request_at {
	MWS_REQ_NONE = 0,
	MWS_REQ_REG,          /* in register request_reg */
	MWS_REQ_STACK,        /* the word at SP + request_off */
	MWS_REQ_FIELD,        /* the word at obj + request_off (before deref_off) */
	MWS_REQ_METHOD_FIELD, /* no request: the method string itself is at obj + request_off (chi's RouteMethod) */
};

/* One route site, found by disassembly (src/probes/route_sites.h): map
 * route_sites, keyed by the probed instruction's link-time address (the
 * probe's cookie). Registers are enum mws_reg. Offsets -1: not used. */
struct mws_route_site {
	__u32 router;       /* enum mws_router */
	__u32 shape;        /* enum mws_route_shape */
	__u32 reg;          /* STRING_REGS: the pattern's pointer; else the router's object */
	__u32 len_reg;      /* STRING_REGS: the pattern's length */
	__u32 match_reg;    /* MWS_REG_NONE, or a register that is 0 when nothing matched (ServeMux 1.22+: *pattern) */
	__u32 request_at;   /* enum mws_route_request_at */
	__u32 request_reg;
	__s32 request_off;
	__s32 deref_off;
	__s32 pattern_off;
	/* echo 4 leaves the raw path in its context on a 404: the pattern is a
	 * route only if its pointer is neither the request URL's Path nor its
	 * RawPath. url_off < 0: no such check. */
	__s32 url_off, url_path_off, url_rawpath_off;
	__u32 _pad;
};

#define MWS_ROUTE_SITES_MAX 64
#define MWS_ROUTE_MAX_SEGMENTS 4   /* chi: nested routers' patterns; more are flagged truncated */
#define MWS_ROUTE_SEGMENT_BYTES 128 /* a longer pattern is cut and flagged truncated */

enum mws_route_flags {
	MWS_ROUTE_FLAG_NO_MATCH = 1u << 0,  /* the router matched nothing: route_id is MWS_ROUTE_ID_NONE */
	MWS_ROUTE_FLAG_TRUNCATED = 1u << 1, /* a segment or the segment count was cut */
	MWS_ROUTE_FLAG_READ_ERROR = 1u << 2, /* the router's memory could not be read */
	/* A ServeMux subtree pattern ("/", "/api/"): the handler it chose is
	 * often another router (gin mounted at "/"), whose route, if any,
	 * is the request's (the innermost router wins). The request's state
	 * stays pending; userspace takes this route when no other comes. */
	MWS_ROUTE_FLAG_PROVISIONAL = 1u << 3,
};

/* The request's method, as on_route classifies it (a client may send any
 * token: a label takes one of these). */
enum mws_http_method {
	MWS_METHOD_UNKNOWN = 0, /* not read at this site */
	MWS_METHOD_GET, MWS_METHOD_HEAD, MWS_METHOD_POST, MWS_METHOD_PUT, MWS_METHOD_PATCH,
	MWS_METHOD_DELETE, MWS_METHOD_OPTIONS, MWS_METHOD_CONNECT, MWS_METHOD_TRACE,
	MWS_METHOD_OTHER,
};

/* Sent at every route site hit: the request's serial and the route's
 * bytes, copied with bounded lengths (the target controls them; userspace
 * escapes them). route_id hashes the router, the method and the segments'
 * addresses and lengths (they point into the router's table), so one route
 * keeps one id; userspace names ids by their bytes. The method counts by
 * its class (enum mws_http_method), never its bytes. */
struct mws_route_event {
	struct mws_event_header hdr;
	__u64 route_id; /* what allocations after this carry in route_tag */
	__u64 serial;   /* the request (0: its goroutine had no request state) */
	__u64 g;        /* the goroutine (R14) */
	__u32 router;   /* enum mws_router */
	__u32 route_flags; /* enum mws_route_flags */
	__u32 method;      /* enum mws_http_method */
	__u32 segments;    /* segment_len[] used */
	__u32 segment_len[MWS_ROUTE_MAX_SEGMENTS];
	__u64 _reserved;
	char segment[MWS_ROUTE_MAX_SEGMENTS][MWS_ROUTE_SEGMENT_BYTES];
};

/* A route record ends with its last segment's bytes: on_route sends the
 * fields before segment[], the segments before the last whole, and the
 * last one's `last_len` bytes (a whole record cost ~140 ns more per
 * request than its fixed fields alone, bpf_stats: its bytes are written to
 * ring memory no CPU has cached). Userspace takes what a record holds
 * (collect/event_decoder.cpp). */
static inline __u64 mws_route_event_bytes(__u32 segments, __u32 last_len)
{
	if (segments == 0)
		return __builtin_offsetof(struct mws_route_event, segment);
	if (segments > MWS_ROUTE_MAX_SEGMENTS)
		segments = MWS_ROUTE_MAX_SEGMENTS;
	if (last_len > MWS_ROUTE_SEGMENT_BYTES)
		last_len = MWS_ROUTE_SEGMENT_BYTES;
	return __builtin_offsetof(struct mws_route_event, segment) +
	       (__u64)(segments - 1) * MWS_ROUTE_SEGMENT_BYTES + last_len;
}
/* ---- end of routes ---- */

/* ---- Process ends: bpf/process_ends.bpf.c (mwscope serve) ----
 * A long-running agent must learn that the kernel's OOM killer chose one of
 * its targets while the victim still exists (oom:mark_victim fires before
 * the SIGKILL takes effect), and how a watched process ended. */
enum mws_process_end_kind {
	MWS_EV_OOM_VICTIM = 30,   /* oom:mark_victim: the OOM killer chose hdr.pid */
	MWS_EV_PROCESS_EXIT = 31, /* sched:sched_process_exit: a watched process's last thread exited */
};

enum mws_process_end_flags {
	/* MWS_EV_OOM_VICTIM on an older kernel, whose tracepoint passes only
	 * the victim thread's id: hdr.pid is that id (the process's own id
	 * unless its main thread had already exited). */
	MWS_FLAG_PID_IS_TID = 1u << 0,
};

/* Indices of the process-ends object's own per-CPU counters array. */
enum mws_end_counter {
	MWS_ECNT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: ring full */
	MWS_ECNT__COUNT,
};

/* Processes whose exit is reported (map watched_exits, tgid -> 1). */
#define MWS_WATCHED_EXITS_MAX 4096

/* hdr.pid: the process (tgid); hdr.tid: the thread the kernel named
 * (OOM) or the last thread (exit). */
struct mws_process_end_event {
	struct mws_event_header hdr;
	__u32 wait_status; /* MWS_EV_PROCESS_EXIT: as wait(2) gives it (signal in bits 0-6, exit code in 8-15) */
	__u32 _pad;
	char comm[16];
};
/* ---- end of process ends ---- */

/* The layout both sides must agree on, checked by both compilers (clang
 * for BPF, g++ for userspace): a field added on one side only fails the
 * build instead of shifting every field after it. */
#ifdef __cplusplus
#define MWS_LAYOUT(cond) static_assert(cond, #cond)
#else
#define MWS_LAYOUT(cond) _Static_assert(cond, #cond)
#endif
MWS_LAYOUT(sizeof(struct mws_event_header) == 24);
MWS_LAYOUT(sizeof(struct mws_alloc_event) == 80 + 8 * MWS_MAX_STACK_DEPTH);
MWS_LAYOUT(__builtin_offsetof(struct mws_alloc_event, stack) == 80);
MWS_LAYOUT(sizeof(struct mws_mprof_args) == 16);
MWS_LAYOUT(sizeof(struct mws_allocator_ranges) == 8 + 16 * MWS_MAX_ALLOCATOR_RANGES);
MWS_LAYOUT(sizeof(struct mws_go_offsets) == 40);
MWS_LAYOUT(sizeof(struct mws_alloc_key) == 32);
MWS_LAYOUT(sizeof(struct mws_alloc_counts) == 24);
MWS_LAYOUT(sizeof(struct mws_task_spawn_event) == 96 + 8 * MWS_MAX_STACK_DEPTH);
MWS_LAYOUT(__builtin_offsetof(struct mws_task_spawn_event, stack) == 96);
MWS_LAYOUT(sizeof(struct mws_spawn_ctx) == 24);
MWS_LAYOUT(sizeof(struct mws_request_state) == 24);
MWS_LAYOUT(sizeof(struct mws_request_key_site) == 24);
MWS_LAYOUT(sizeof(struct mws_pending_count) == 40);
MWS_LAYOUT(sizeof(struct mws_request_pending) == 16 + 40 * MWS_PENDING_SLOTS);
MWS_LAYOUT(sizeof(struct mws_goid_ctx) == 24);
MWS_LAYOUT(sizeof(struct mws_spawn_ctx_offsets) == 32);
MWS_LAYOUT(sizeof(struct mws_exit_batch) == 16 + 16 * MWS_EXIT_BATCH);
MWS_LAYOUT(sizeof(struct mws_task_exits_event) == 24 + sizeof(struct mws_exit_batch));
MWS_LAYOUT(sizeof(struct mws_c_alloc_event) == 24 + 40 + 8 * MWS_MAX_STACK_DEPTH);
MWS_LAYOUT(sizeof(struct mws_c_free_event) == 40);
MWS_LAYOUT(sizeof(struct mws_cgo_context) == 64);
MWS_LAYOUT(sizeof(struct mws_thread_new_event) == 48 + 8 * MWS_MAX_STACK_DEPTH);
MWS_LAYOUT(__builtin_offsetof(struct mws_thread_new_event, stack) == 48);
MWS_LAYOUT(sizeof(struct mws_thread_exit_event) == 40);
MWS_LAYOUT(sizeof(struct mws_process_end_event) == 48);
MWS_LAYOUT(sizeof(struct mws_route_site) == 56);
MWS_LAYOUT(sizeof(struct mws_route_event) == 88 + MWS_ROUTE_MAX_SEGMENTS * MWS_ROUTE_SEGMENT_BYTES);
#undef MWS_LAYOUT

#endif /* MWSCOPE_EVENTS_H */
