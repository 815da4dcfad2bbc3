// SPDX-License-Identifier: GPL-2.0
/* BPF programs for Go targets (amd64). One object, one ring buffer, one
 * counters map, so events of all kinds arrive in one order.
 *
 *  on_mallocgc     entry of runtime.mallocgc, or in size-specialised builds
 *                  (Go 1.26+) of the size-specialised allocators and the paths
 *                  mallocgc calls: every allocation, one hit each, counted in
 *                  alloc_counts (exact mode)
 *  on_mprof_malloc entry of runtime.mProf_Malloc: one event per allocation the
 *                  Go runtime samples (sampled mode, 1 per MemProfileRate bytes)
 *                  (its frees come from the runtime's profile buckets, read
 *                  from memory at both ends: no probe)
 *  on_mcache_tiny_flush, on_mcache_release_all
 *                  the load of c.tinyAllocs in runtime.(*mcache).refill's
 *                  tiny-span branch, and releaseAll's entry: the runtime
 *                  flushes its per-P count of tiny allocations (sampled mode)
 *  on_newproc_runqput  newproc's CALL runqput(pp, newg, true): a goroutine
 *                  was created (an emulated CALL: ~12x cheaper than a RET)
 *  on_newcoro_ret  RET of runtime.newcoro: a coroutine was created (go1.22+)
 *  on_newproc1_ret RET of runtime.newproc1: a goroutine was created (used
 *                  only when the runqput call is not found)
 *  on_goexit1      entry of runtime.goexit1: a goroutine is ending (Go < 1.22);
 *                  exits are batched per CPU (events.h, mws_exit_batch)
 *  on_gdestroy     entry of runtime.gdestroy: a goroutine is ending (Go >= 1.22:
 *                  goexit0 calls it, and so do coroutines that end without goexit1)
 *  on_request      entry of net/http.serverHandler.ServeHTTP: counts requests
 *                  (with routes: starts the goroutine's request state)
 *  on_route        a router's route site: the route a request matched
 *  on_empty        benchmarks only: the bare cost of a probe hit
 *
 * Entry probes sit on the prologue's stack-check JBE (the kernel emulates
 * it; a probe on the CMP before it would be single-stepped). No uretprobes:
 * Go moves goroutine stacks and a rewritten return address crashes it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#include "frame_walk.h"

char LICENSE[] SEC("license") = "GPL";

/* Shared words written and read by several CPUs without a lock. */
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define barrier() asm volatile("" ::: "memory")

/* Set through skel->rodata before load. */
const volatile __u32 target_tgid = 0;
/* Wake the consumer only when this many bytes are waiting, so a busy target
 * costs one wakeup per batch instead of one per event; the consumer also
 * polls on a timer, so a quiet ring is drained too. */
const volatile __u64 wakeup_bytes = 256 * 1024;
const volatile struct mws_go_offsets go_off = {-1, -1, -1, 0, -1};
const volatile struct mws_mprof_args mprof_args = {0, 1, 32, MWS_REG_NONE};
const volatile struct mws_allocator_ranges allocator_ranges = {};
/* Exact mode: 0, runtime.mallocgc's entry is probed, and a hit whose caller
 * lies in allocator code was counted there already. 1, size-specialised
 * builds: mallocgc hands its allocations to probed functions instead (its
 * own entry unprobed, so no allocation traps twice), and such a hit is the
 * allocation, made by the first frame outside the allocator. */
const volatile __u32 mallocgc_entry_unprobed = 0;
const volatile struct mws_spawn_ctx_offsets spawn_ctx_off = {0, 0, -1, -1, -1};
/* runtime.goexit, link-time: every goroutine's outermost frame returns into
 * it. The walk stops there, as Go's own traceback does: what the frame
 * pointer above leads to is the g0 frame that started the goroutine, not
 * part of its stack, and reading it cost another chunk. {0, 0}: unknown. */
const volatile struct mws_code_range goexit_code = {};
/* Routes (events.h, "Routes"): requests get a state per goroutine, route
 * sites name their route. 0: no request state is kept, tags are 0. */
const volatile __u32 routes_enabled = 0;
/* Exact mode with routes: a request's allocations before its router ran
 * wait in request_pending (events.h). */
const volatile __u32 pending_enabled = 0;
/* Slots a request may fill (<= MWS_PENDING_SLOTS; fewer only in tests, to
 * make requests overflow into serial keys). */
const volatile __u32 pending_slots = MWS_PENDING_SLOTS;
/* Sampled mode with routes: requests are named by keys, not started by the
 * request probe (events.h, "Routes"). */
const volatile __u32 requests_keyed = 0;
const volatile struct mws_request_key_site request_key_site = {};
/* net/http.serverHandler.ServeHTTP, link-time: a goroutine started from a
 * stack through it was started by a request. */
const volatile struct mws_code_range request_code = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 * 1024 * 1024); /* resized before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MWS_CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Exact mode: allocations counted per (stack hash, type), per CPU (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MWS_ALLOC_COUNTS_MAX);
	__type(key, struct mws_alloc_key);
	__type(value, struct mws_alloc_counts);
} alloc_counts SEC(".maps");

/* Where an allocation event is built (too big for the BPF stack): in exact
 * mode before it is counted, or sent when the stack is new; in sampled mode
 * before it is sent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mws_alloc_event);
} alloc_scratch SEC(".maps");

/* Where a spawn event is built before it is sent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mws_task_spawn_event);
} spawn_scratch SEC(".maps");

/* Reading the target's memory is what an event costs most: on our VMs
 * each bpf_probe_read_user costs ~180 ns, plus ~0.025 ns a byte, so 16
 * bytes cost about what 1 KiB does (make bench). So the stack is read in
 * chunks, each the rest of a page from where the walk needs it: the frames
 * a walk visits lie close together, one read serves several of them, and
 * a read that stays within a page the walk already touches cannot fault
 * (a faulting read costs ~1 us: past a thread stack's top there may be
 * nothing mapped). */
#define MWS_PAGE_BYTES 4096
#define MWS_STACK_CHUNK_WORDS (MWS_PAGE_BYTES / 8)
struct stack_chunk {
	__u64 load_bias; /* runtime minus link-time address of the target's code (empty_chunk) */
	__u64 base;  /* the user address w[0] was read from */
	__u64 valid; /* bytes of w[] read from there */
	__u64 key_bp; /* the last walk met (*conn).serve's call of a request: its frame pointer (else 0) */
	__u64 w[MWS_STACK_CHUNK_WORDS + 1]; /* +1: a frame's second word past the last index */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_chunk);
} chunk_scratch SEC(".maps");

/* Goroutine -> spawn context (events.h, "Spawn contexts"), by g address.
 * Not deleted when the goroutine ends: Go never frees a g, it reuses it for
 * a later goroutine, whose spawn overwrites the entry; so the map holds at
 * most one entry per g the runtime ever made, and exits cost no map work. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MWS_SPAWN_CTX_MAX);
	__type(key, __u64);
	__type(value, struct mws_spawn_ctx);
} spawn_ctx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} spawn_ctx_lost SEC(".maps");

/* Goroutine contexts by goid, for their children's spawns (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MWS_GOID_CTX_SLOTS);
	__type(key, __u32);
	__type(value, struct mws_goid_ctx);
} goid_ctx SEC(".maps");

/* The request each goroutine serves, or was started by (events.h, "Routes"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MWS_REQUEST_STATE_MAX);
	__type(key, __u64);
	__type(value, struct mws_request_state);
} request_state SEC(".maps");

/* Exact mode: what requests allocated before their router ran (events.h).
 * Sized to 1 entry before load unless pending_enabled. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MWS_REQUEST_PENDING_MAX);
	__type(key, __u64);
	__type(value, struct mws_request_pending);
} request_pending SEC(".maps");

/* A goroutine's first entry in request_pending (too big for the BPF stack). */
static const struct mws_request_pending no_pending = {};

/* How on_route reads the pattern at each route site, by the site's
 * link-time address (its cookie); written by userspace before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MWS_ROUTE_SITES_MAX);
	__type(key, __u64);
	__type(value, struct mws_route_site);
} route_sites SEC(".maps");

/* Where a route event is built before it is sent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mws_route_event);
} route_scratch SEC(".maps");

/* Each CPU's goroutine exits not yet sent (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mws_exit_batch);
} exit_batch SEC(".maps");

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

/* The recording window: userspace sets it once every probe is attached and
 * clears it before detaching, so that every probe counts over the same
 * span whatever the attach and detach order and their duration (a figure
 * per request divides counts of different probes). In .bss, which
 * userspace writes through the skeleton's mapping. */
volatile __u32 window_open = 0;

static __always_inline bool is_target(void)
{
	return window_open && (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

#define MWS_EFLAGS_CF 0x0001
#define MWS_EFLAGS_ZF 0x0040

/* A hit that will be repeated: the probe sits on the prologue's stack-check
 * jump and CMP SP, g.stackguard0 found SP <= stackguard0 (CF or ZF), so the
 * function calls morestack and runs again from its entry (see events.h,
 * MWS_COOKIE_STACK_CHECK_JUMP). Only the hit that goes on is counted. */
static __always_inline bool restarts_after_morestack(struct pt_regs *ctx)
{
	return (ctx->flags & (MWS_EFLAGS_CF | MWS_EFLAGS_ZF)) &&
	       (bpf_get_attach_cookie(ctx) & MWS_COOKIE_STACK_CHECK_JUMP);
}

/* The probed function's entry hit of this call: in the target, and not a
 * hit that morestack will repeat. */
static __always_inline bool counted_entry(struct pt_regs *ctx)
{
	return is_target() && !restarts_after_morestack(ctx);
}

/* Fills the header but its flags (the stack capture sets those). */
static __always_inline void fill_header(struct mws_event_header *h, __u32 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ts_ns = bpf_ktime_get_ns();
}

/* Reserves a ring-buffer record of `size` bytes and fills its header; on a
 * full ring counts the drop and returns NULL. Every event starts with
 * struct mws_event_header. */
static __always_inline void *reserve_event(__u64 size, __u32 kind)
{
	struct mws_event_header *h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count(MWS_CNT_RINGBUF_DROPS);
		return NULL;
	}
	fill_header(h, kind);
	h->flags = 0;
	return h;
}

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *e)
{
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* Sends the used part of a scratch event, header filled (frame_walk.h). */
static __always_inline long send_used(void *e, __u64 fixed, __u32 stack_len)
{
	return bpf_ringbuf_output(&events, e, mws_event_bytes(fixed, stack_len), wakeup_flags());
}

/* This CPU's stack chunk, emptied, with the load bias of the probe that
 * runs: its cookie is the probed instruction's link-time address, ctx->ip
 * its runtime one (the kernel points ip at it before running handlers). */
static __always_inline struct stack_chunk *empty_chunk(struct pt_regs *ctx)
{
	__u32 zero = 0;
	struct stack_chunk *c = bpf_map_lookup_elem(&chunk_scratch, &zero);
	if (c) {
		c->valid = 0;
		c->load_bias = ctx->ip - (bpf_get_attach_cookie(ctx) & MWS_COOKIE_VADDR_MASK);
	}
	return c;
}

/* Reads from `at` to the end of its page, at least the 16 bytes of a
 * frame (which then ends in the next page). */
static __always_inline bool load_chunk(struct stack_chunk *c, __u64 at)
{
	__u64 n = MWS_PAGE_BYTES - (at & (MWS_PAGE_BYTES - 1));
	if (n < 16)
		n = 16;
	c->base = at;
	c->valid = 0;
	if (bpf_probe_read_user(c->w, n, (void *)at) == 0)
		c->valid = n;
	return c->valid != 0;
}

/* The two words at user address `at`, from the chunk when it holds them,
 * else from a chunk read there. */
static __always_inline bool chunk_pair(struct stack_chunk *c, __u64 at, __u64 *first, __u64 *second)
{
	__u64 off = at - c->base;
	if (at < c->base || off + 16 > c->valid || (off & 7)) {
		if (!load_chunk(c, at))
			return false;
		off = 0;
	}
	__u32 i = (off >> 3) & (MWS_STACK_CHUNK_WORDS - 1);
	*first = c->w[i];
	*second = c->w[i + 1];
	return true;
}

/* Unwinds the user stack by following RBP, which Go keeps as a frame
 * pointer on amd64: [RBP] holds the caller's RBP, [RBP+8] the return
 * address. stack[0] is the probed instruction. Walking it here costs
 * a few hundred ns per event on our VMs where bpf_get_stack(BPF_F_USER_STACK)
 * costs ~8 us (kernel 6.18), measured with `make bench`. Stops at a zero
 * or unreadable frame pointer, or a frame that points at itself. */
static __always_inline __u32 walk_frame_pointers(struct pt_regs *ctx, struct stack_chunk *c, __u64 fp, __u64 *stack)
{
	const __u64 goexit_lo = goexit_code.lo + c->load_bias;
	const __u64 goexit_len = goexit_code.hi - goexit_code.lo;
	const __u64 key_ret = request_key_site.ret + c->load_bias;
	__u32 i;

	c->key_bp = 0;
	stack[0] = ctx->ip;
	for (i = 1; i < MWS_MAX_STACK_DEPTH; i++) {
		__u64 saved_bp, ret;

		if (fp == 0 || !chunk_pair(c, fp, &saved_bp, &ret))
			break;
		if (ret == 0)
			break;
		stack[i] = ret;
		if (requests_keyed && ret == key_ret)
			c->key_bp = saved_bp;
		if (saved_bp == fp || ret - goexit_lo < goexit_len)
			return i + 1;
		fp = saved_bp;
	}
	return i;
}

/* The return address at [SP]: at a function's entry or RET, RBP belongs to
 * the caller's frame, so the frame-pointer walk would skip the direct
 * caller. Loads the chunk at SP, where the walk's first frames lie too.
 * 0 when unreadable. */
static __always_inline __u64 read_caller(struct pt_regs *ctx, struct stack_chunk *c)
{
	__u64 caller = 0, next = 0;
	if (!chunk_pair(c, PT_REGS_SP(ctx), &caller, &next))
		return 0;
	return caller;
}

/* Fills the stack walked from frame pointer `fp` (the caller's: RBP at an
 * entry) beside the caller already read; flags and counts what went wrong. */
static __always_inline void capture_stack(struct pt_regs *ctx, struct stack_chunk *c, struct mws_event_header *h,
					  __u64 caller, __u64 fp, __u64 *caller_out, __u64 *stack, __u32 *stack_len)
{
	*caller_out = caller;
	if (caller == 0)
		h->flags |= MWS_FLAG_NO_CALLER;
	__u32 depth = walk_frame_pointers(ctx, c, fp, stack);
	*stack_len = depth;
	if (depth <= 1 && fp != 0)
		count(MWS_CNT_STACK_ERRORS);
	if (depth == MWS_MAX_STACK_DEPTH)
		h->flags |= MWS_FLAG_STACK_TRUNCATED;
}

static __always_inline int read_u64(__u64 base, __s64 off, __u64 *out)
{
	if (off < 0 || base == 0)
		return -1;
	return bpf_probe_read_user(out, sizeof(*out), (void *)(base + off));
}

/* The entry of a g that has none: when g is its M's g0 (the system stack,
 * which runs for m.curg), an is_g0 entry that remembers the M; else NULL,
 * a goroutine without a context (alive at attach and not seeded). Only a
 * g0 gets an entry here: userspace may still be seeding the others. */
static __always_inline struct mws_spawn_ctx *remember_g0(__u64 g)
{
	__u64 m = 0, g0 = 0;
	if (read_u64(g, spawn_ctx_off.g_m, &m) != 0 || read_u64(m, spawn_ctx_off.m_g0, &g0) != 0 || g0 != g)
		return NULL;
	struct mws_spawn_ctx e = {.is_g0 = 1, .m = m};
	bpf_map_update_elem(&spawn_ctx, &g, &e, BPF_NOEXIST);
	return bpf_map_lookup_elem(&spawn_ctx, &g);
}

/* The spawn context of the goroutine behind current g `g`, given g's own
 * entry `c` (NULL: none), NULL when it has none (created before we
 * attached and not seeded). A goroutine's is its entry; on the system
 * stack it costs a read of m.curg and a second lookup (events.h, struct
 * mws_spawn_ctx). */
static __always_inline struct mws_spawn_ctx *resolve_spawn_ctx(__u64 g, struct mws_spawn_ctx *c)
{
	if (!c)
		c = remember_g0(g);
	if (!c || !c->is_g0)
		return c;
	__u64 curg = 0;
	if (read_u64(c->m, spawn_ctx_off.m_curg, &curg) != 0 || curg == 0)
		return NULL;
	return bpf_map_lookup_elem(&spawn_ctx, &curg);
}

/* The goroutine behind current g `g`: g itself, or on the system stack
 * (g0) its M's curg (0 when unreadable). */
static __always_inline __u64 goroutine_behind(__u64 g)
{
	struct mws_spawn_ctx *c = bpf_map_lookup_elem(&spawn_ctx, &g);
	if (!c)
		c = remember_g0(g);
	if (!c || !c->is_g0)
		return g;
	__u64 curg = 0;
	read_u64(c->m, spawn_ctx_off.m_curg, &curg);
	return curg;
}

/* The same from g alone. */
static __always_inline struct mws_spawn_ctx *spawn_ctx_of(__u64 g)
{
	if (!spawn_ctx_off.enabled || g == 0)
		return NULL;
	return resolve_spawn_ctx(g, bpf_map_lookup_elem(&spawn_ctx, &g));
}

/* Each CPU's last goroutine context looked up, good while no entry of
 * spawn_ctx was overwritten since (a g's context changes only when a new
 * goroutine takes the g, which bumps spawn_ctx_generation): consecutive
 * allocations of one goroutine skip the hash lookup. `check` catches a
 * copy torn by another program on this CPU. */
volatile __u64 spawn_ctx_generation = 0;
struct ctx_cache {
	__u64 g, ctx, generation, check;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctx_cache);
} ctx_cache SEC(".maps");

static __always_inline __u64 ctx_cache_check(__u64 g, __u64 ctx, __u64 generation)
{
	return (g ^ (ctx * 0x9e3779b97f4a7c15ull) ^ generation) | 1;
}

/* The spawn context of the goroutine behind current g `g` (0: none), for
 * an allocation. */
static __always_inline __u64 spawn_ctx_id(__u64 g)
{
	if (!spawn_ctx_off.enabled || g == 0)
		return 0;
	__u32 zero = 0;
	struct ctx_cache *cc = bpf_map_lookup_elem(&ctx_cache, &zero);
	const __u64 generation = READ_ONCE(spawn_ctx_generation);
	if (cc && cc->g == g && cc->generation == generation && cc->check == ctx_cache_check(g, cc->ctx, generation))
		return cc->ctx;
	struct mws_spawn_ctx *c = bpf_map_lookup_elem(&spawn_ctx, &g);
	/* Only a goroutine's own entry is kept: a g0 runs for whichever
	 * goroutine is its M's curg now. */
	if (c && !c->is_g0) {
		const __u64 ctx = c->ctx;
		if (cc) {
			cc->g = g;
			cc->ctx = ctx;
			cc->generation = generation;
			cc->check = ctx_cache_check(g, ctx, generation);
		}
		return ctx;
	}
	c = resolve_spawn_ctx(g, c);
	return c ? c->ctx : 0;
}

/* ---- Routes (events.h, "Routes") ---- */

/* The last request's serial: each request takes the next. */
volatile __u64 request_serial = 0;

/* The route tag of the goroutine behind g (0: none, or routes off). One
 * lookup: a per-CPU cache of the last goroutine's tag, invalidated by a
 * generation every request bumped, cost as much as the lookup (bpf_stats,
 * on_mallocgc 353 ns with it, 358 without) and made every CPU write one
 * shared word per request. */
static __always_inline struct mws_request_state *request_state_of(__u64 g)
{
	if (!routes_enabled || g == 0)
		return NULL;
	return bpf_map_lookup_elem(&request_state, &g);
}

static __always_inline __u64 route_tag_of(__u64 g)
{
	struct mws_request_state *st = request_state_of(g);
	return st ? READ_ONCE(st->route_tag) : 0;
}

/* Exact mode: the counts of `key`, made (zero) when new; NULL: map full. */
static __always_inline struct mws_alloc_counts *counts_of(const struct mws_alloc_key *key)
{
	struct mws_alloc_counts *c = bpf_map_lookup_elem(&alloc_counts, key);
	if (c)
		return c;
	struct mws_alloc_counts none = {};
	/* -EEXIST: another CPU added the key meanwhile; it is there now. */
	bpf_map_update_elem(&alloc_counts, key, &none, BPF_NOEXIST);
	return bpf_map_lookup_elem(&alloc_counts, key);
}

/* Adds a request's pending slots to alloc_counts under route_tag (its
 * route, or its serial when no route came) and empties them. Atomic adds:
 * the keys are shared with every goroutine of the route. */
static __always_inline void fold_pending(struct mws_request_pending *p, __u64 route_tag)
{
	for (__u32 i = 0; i < MWS_PENDING_SLOTS; i++) {
		if (i >= p->used)
			break;
		const struct mws_pending_count *s = &p->slot[i];
		struct mws_alloc_key key = {
		    .stack_hash = s->stack_hash, .type_addr = s->type_addr, .spawn_ctx = s->spawn_ctx, .route_tag = route_tag};
		struct mws_alloc_counts *c = counts_of(&key);
		if (!c) {
			count_n(MWS_CNT_PENDING_LOST, s->objects);
			continue;
		}
		__sync_fetch_and_add(&c->objects, s->objects);
		__sync_fetch_and_add(&c->bytes, s->bytes);
	}
	p->used = 0;
}

/* g's router ran for request `serial`: its pending slots go to the route
 * (slots of an older request, to that request's serial). */
static __always_inline void route_pending(__u64 g, __u64 serial, __u64 route_id)
{
	struct mws_request_pending *p = pending_enabled ? bpf_map_lookup_elem(&request_pending, &g) : NULL;
	if (p && p->used)
		fold_pending(p, p->serial == serial ? route_id : MWS_ROUTE_TAG_PENDING | p->serial);
}

/* g starts another request, or is reused: what its last request left
 * pending (it reached no router, or only a provisional one) goes to that
 * request's serial, which userspace maps to its route or to (no route). */
static __always_inline void settle_pending(__u64 g)
{
	struct mws_request_pending *p = pending_enabled ? bpf_map_lookup_elem(&request_pending, &g) : NULL;
	if (p && p->used)
		fold_pending(p, MWS_ROUTE_TAG_PENDING | p->serial);
}

/* Writes g's request state: in place when g has an entry (a connection's
 * goroutine, request after request; a reused g), which costs no map
 * update. A full map is counted: that request goes without a route. */
static __always_inline void set_request_state(__u64 g, __u64 route_tag, __u64 serial, __u64 key)
{
	settle_pending(g);
	struct mws_request_state *st = bpf_map_lookup_elem(&request_state, &g);
	if (st) {
		WRITE_ONCE(st->route_tag, route_tag);
		WRITE_ONCE(st->serial, serial);
		WRITE_ONCE(st->key, key);
	} else if (route_tag) {
		struct mws_request_state fresh = {.route_tag = route_tag, .serial = serial, .key = key};
		if (bpf_map_update_elem(&request_state, &g, &fresh, BPF_NOEXIST) != 0)
			count(MWS_CNT_REQUEST_STATE_FULL);
	}
}

/* Goroutine g starts serving a request: a new serial, route not known yet. */
static __always_inline void start_request(__u64 g, __u64 key)
{
	const __u64 serial = (__sync_fetch_and_add(&request_serial, 1) + 1) & MWS_ROUTE_TAG_SERIAL_MASK;
	set_request_state(g, MWS_ROUTE_TAG_PENDING | serial, serial, key);
}

/* Sampled mode: the key of the request goroutine g serves (events.h,
 * "Routes"): the response in (*conn).serve's frame at key_bp, else g's goid. */
static __always_inline __u64 request_key(__u64 key_bp, __u64 g)
{
	__u64 w = 0, req = 0;
	if (key_bp && bpf_probe_read_user(&w, sizeof(w), (void *)(key_bp + request_key_site.w_bp_off)) == 0 && w) {
		bpf_probe_read_user(&req, sizeof(req), (void *)(w + request_key_site.req_off));
		return (w ^ (req << 17 | req >> 47) * 0x9e3779b97f4a7c15ull) & ~MWS_REQUEST_KEY_GOROUTINE;
	}
	__u64 goid = 0;
	if (go_off.g_goid < 0 || bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + go_off.g_goid)) != 0)
		return 0;
	return goid | MWS_REQUEST_KEY_GOROUTINE;
}

/* Sampled mode: g's state for the request `key` names; another key than
 * the one it holds starts that request here. NULL: no room (counted). */
static __always_inline struct mws_request_state *keyed_state(__u64 g, __u64 key)
{
	struct mws_request_state *st = bpf_map_lookup_elem(&request_state, &g);
	if (st && READ_ONCE(st->key) == key)
		return st;
	start_request(g, key);
	return bpf_map_lookup_elem(&request_state, &g);
}

/* A new goroutine takes over its creator's request (INHERITED) when its
 * creation stack runs inside one, or none: a g is reused, and what its
 * last goroutine served is not the new one's; and a connection's goroutine
 * keeps its last request's state after it (net/http's background read
 * starts between requests). */
static __always_inline __u64 inherit_request(__u64 creator, __u64 newg)
{
	struct mws_request_state *c = creator ? bpf_map_lookup_elem(&request_state, &creator) : NULL;
	struct mws_request_state st = {};
	if (c) {
		st.route_tag = READ_ONCE(c->route_tag);
		st.serial = READ_ONCE(c->serial);
	}
	if (st.route_tag)
		st.route_tag |= MWS_ROUTE_TAG_INHERITED;
	set_request_state(newg, st.route_tag, st.serial, 0);
	return st.route_tag;
}

/* Go ABIInternal (amd64) passes integer arguments in RAX, RBX, RCX, ...
 * All three are read first: the verifier only allows loads from ctx at
 * constant offsets, and without the barriers clang turns the switch into
 * one load at a computed offset. */
static __always_inline __u64 go_arg(struct pt_regs *ctx, __u32 i)
{
	__u64 ax = ctx->ax, bx = ctx->bx, cx = ctx->cx;

	asm volatile("" : "+r"(ax), "+r"(bx), "+r"(cx));
	return i == 0 ? ax : i == 1 ? bx : i == 2 ? cx : 0;
}

/* Whether a walked stack runs inside net/http.serverHandler.ServeHTTP:
 * the goroutine serves a request. */
static __always_inline bool stack_in_request(const struct stack_chunk *c, const __u64 *stack, __u32 stack_len,
					     __u64 caller)
{
	const __u64 lo = request_code.lo + c->load_bias, len = request_code.hi - request_code.lo;
	if (len == 0)
		return false;
	for (__u32 i = 1; i < MWS_MAX_STACK_DEPTH; i++) {
		if (i >= stack_len)
			break;
		if (stack[i] - lo < len)
			return true;
	}
	return caller - lo < len;
}

/* Sampled mode: the route tag of an allocation whose stack the chunk's
 * walk just read. Inside a request, the request its key names (a new one
 * when the key is new); outside, only a tag g inherited from a request. */
static __always_inline __u64 keyed_route_tag(__u64 g, const struct stack_chunk *c, const __u64 *stack,
					     __u32 stack_len, __u64 caller)
{
	if (!routes_enabled || g == 0)
		return 0;
	if (!c->key_bp && !stack_in_request(c, stack, stack_len, caller)) {
		const __u64 tag = route_tag_of(g);
		return tag & MWS_ROUTE_TAG_INHERITED ? tag : 0;
	}
	struct mws_request_state *st = keyed_state(g, request_key(c->key_bp, g));
	return st ? READ_ONCE(st->route_tag) : 0;
}

static __always_inline int emit_alloc(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 type_addr, __u64 object)
{
	struct stack_chunk *c = empty_chunk(ctx);
	__u32 zero = 0;
	struct mws_alloc_event *e = bpf_map_lookup_elem(&alloc_scratch, &zero);
	if (!c || !e)
		return 0;
	__u64 caller = read_caller(ctx, c);
	fill_header(&e->hdr, kind);
	e->hdr.flags = 0;
	e->size = size;
	e->type_addr = type_addr;
	e->object = object;
	e->_pad = 0;
	/* Entry of an ABIInternal function: R14 = g. Read once, behind a
	 * barrier: clang otherwise loads it through a computed ctx pointer,
	 * which the verifier refuses. */
	__u64 g = ctx->r14;
	asm volatile("" : "+r"(g));
	e->spawn_ctx = spawn_ctx_id(g);
	capture_stack(ctx, c, &e->hdr, caller, ctx->bp, &e->caller, e->stack, &e->stack_len);
	e->route_tag = requests_keyed ? keyed_route_tag(g, c, e->stack, e->stack_len, e->caller) : route_tag_of(g);
	if (send_used(e, __builtin_offsetof(struct mws_alloc_event, stack), e->stack_len) != 0)
		count(MWS_CNT_RINGBUF_DROPS);
	return 0;
}

/* FNV-1a over the words userspace keeps of a stack: `caller`, then
 * stack[1..len). Two stacks with one hash would be counted as one: at 2^20
 * stacks the chance is about 2^-24 (userspace also checks the stacks it is
 * sent). */
static __always_inline __u64 hash_stack(__u64 caller, const __u64 *stack, __u32 stack_len)
{
	__u64 h = 0xcbf29ce484222325ull ^ caller;
	h *= 0x100000001b3ull;
	for (__u32 i = 1; i < MWS_MAX_STACK_DEPTH; i++) {
		if (i >= stack_len)
			break;
		h ^= stack[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static __always_inline __u64 stack_hash(const struct mws_alloc_event *e)
{
	return hash_stack(e->caller, e->stack, e->stack_len);
}

/* Stacks (by hash) some CPU delivered to userspace: a new key of a known
 * stack (with routes, a request's serial makes one per request) need not
 * send it again. LRU: a stack that ages out is sent again, harmlessly. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MWS_ALLOC_COUNTS_MAX);
	__type(key, __u64);
	__type(value, __u8);
} sent_stacks SEC(".maps");

/* Whether userspace has the stack behind `hash`: some CPU sent it, or this
 * one sends e's copy now. False: the ring is full. */
static __always_inline bool stack_delivered(struct mws_alloc_event *e, __u64 hash)
{
	if (bpf_map_lookup_elem(&sent_stacks, &hash))
		return true;
	fill_header(&e->hdr, MWS_EV_ALLOC_STACK);
	e->object = hash;
	if (send_used(e, __builtin_offsetof(struct mws_alloc_event, stack), e->stack_len) != 0)
		return false;
	__u8 one = 1;
	bpf_map_update_elem(&sent_stacks, &hash, &one, BPF_ANY);
	return true;
}

/* Sends this CPU's copy of the stack behind `c` once, unless a CPU sent
 * it already; a full ring leaves it unsent, to be tried again at the key's
 * next allocation. */
static __always_inline void send_stack_once(struct mws_alloc_event *e, struct mws_alloc_counts *c, __u64 hash)
{
	if (!c->stack_sent && stack_delivered(e, hash))
		c->stack_sent = 1;
}

/* Exact mode, an allocation of request `serial` before its router ran:
 * counted in g's pending slots (events.h, request_pending). False: no
 * slot (all taken by other keys, a full map, or the stack could not be
 * sent), and it takes an ordinary key. */
static __always_inline bool count_pending(__u64 g, __u64 serial, struct mws_alloc_event *e,
					  const struct mws_alloc_key *key, __u64 size)
{
	struct mws_request_pending *p = bpf_map_lookup_elem(&request_pending, &g);
	if (!p) {
		bpf_map_update_elem(&request_pending, &g, &no_pending, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&request_pending, &g);
		if (!p)
			return false;
	}
	if (p->serial != serial) {
		if (p->used)
			fold_pending(p, MWS_ROUTE_TAG_PENDING | p->serial);
		p->serial = serial;
	}
	const __u32 used = p->used;
	for (__u32 i = 0; i < MWS_PENDING_SLOTS; i++) {
		if (i >= used)
			break;
		struct mws_pending_count *s = &p->slot[i];
		if (s->stack_hash == key->stack_hash && s->type_addr == key->type_addr && s->spawn_ctx == key->spawn_ctx) {
			s->objects++;
			s->bytes += size;
			return true;
		}
	}
	/* The slot's stack must reach userspace now: the fold has none. */
	if (used >= pending_slots || used >= MWS_PENDING_SLOTS || !stack_delivered(e, key->stack_hash))
		return false;
	struct mws_pending_count *s = &p->slot[used];
	s->stack_hash = key->stack_hash;
	s->type_addr = key->type_addr;
	s->spawn_ctx = key->spawn_ctx;
	s->objects = 1;
	s->bytes = size;
	p->used = used + 1;
	return true;
}

/* Exact mode: one allocation, made by `caller` (a return address) whose
 * frame pointer is `fp`, counted in alloc_counts. The chunk holds the
 * stack at SP (read_caller). */
static __always_inline int count_alloc(struct pt_regs *ctx, struct stack_chunk *chunk, __u64 size, __u64 type_addr,
				       __u64 caller, __u64 fp)
{
	__u32 zero = 0;
	struct mws_alloc_event *e = bpf_map_lookup_elem(&alloc_scratch, &zero);
	if (!e)
		return 0;
	e->hdr.flags = 0;
	e->size = size;
	e->type_addr = type_addr;
	e->object = 0;
	e->_pad = 0;
	/* Entry of an ABIInternal function: R14 = g. Read once, behind a
	 * barrier: clang otherwise loads it through a computed ctx pointer,
	 * which the verifier refuses. */
	__u64 g = ctx->r14;
	asm volatile("" : "+r"(g));
	e->spawn_ctx = spawn_ctx_id(g);
	struct mws_request_state *st = request_state_of(g);
	e->route_tag = st ? READ_ONCE(st->route_tag) : 0;
	capture_stack(ctx, chunk, &e->hdr, caller, fp, &e->caller, e->stack, &e->stack_len);
	struct mws_alloc_key key = {.stack_hash = stack_hash(e), .type_addr = type_addr, .spawn_ctx = e->spawn_ctx,
				    .route_tag = e->route_tag};
	/* Before its router ran, a request's own goroutine counts in its
	 * pending slots; a goroutine it started (INHERITED) does not. */
	if (pending_enabled && st &&
	    (key.route_tag & (MWS_ROUTE_TAG_PENDING | MWS_ROUTE_TAG_INHERITED)) == MWS_ROUTE_TAG_PENDING &&
	    count_pending(g, READ_ONCE(st->serial), e, &key, size))
		return 0;
	struct mws_alloc_counts *c = counts_of(&key);
	if (!c) {
		/* The map is full: this allocation travels as an event. */
		fill_header(&e->hdr, MWS_EV_ALLOC);
		if (send_used(e, __builtin_offsetof(struct mws_alloc_event, stack), e->stack_len) != 0)
			count(MWS_CNT_RINGBUF_DROPS);
		return 0;
	}
	/* Atomic: a preemptible kernel may run this program for another task
	 * on the same CPU in between. */
	__sync_fetch_and_add(&c->objects, 1);
	__sync_fetch_and_add(&c->bytes, size);
	send_stack_once(e, c, key.stack_hash);
	return 0;
}

/* Whether the return address `caller` (a runtime address) lies in
 * allocator code: then an outer allocator entry already counted this
 * allocation. */
static __always_inline bool called_by_allocator(struct stack_chunk *c, __u64 caller)
{
	__u64 at = caller - c->load_bias;
	for (__u32 i = 0; i < MWS_MAX_ALLOCATOR_RANGES; i++) {
		if (i >= allocator_ranges.count)
			break;
		if (at >= allocator_ranges.range[i].lo && at < allocator_ranges.range[i].hi)
			return true;
	}
	return false;
}

/* How deep allocator frames may nest above a probed allocator function:
 * mallocgc and the function it called (go_probe_plan.cpp proves one). */
#define MWS_MAX_ALLOCATOR_FRAMES 4

/* mallocgc(size uintptr, typ *_type, needzero bool), the size-specialised
 * entry points and the paths mallocgc calls, all with size in RAX and typ
 * in RBX (go_probe_plan.cpp, plan_exact). */
SEC("uprobe")
int on_mallocgc(struct pt_regs *ctx)
{
	if (!counted_entry(ctx))
		return 0;
	/* mallocgc(0) returns &zerobase: no allocation, and Go's own profile
	 * does not record it either. */
	if (PT_REGS_RC(ctx) == 0)
		return 0;
	struct stack_chunk *chunk = empty_chunk(ctx);
	if (!chunk)
		return 0;
	__u64 caller = read_caller(ctx, chunk);
	__u64 fp = ctx->bp;
	if (caller != 0 && called_by_allocator(chunk, caller)) {
		if (!mallocgc_entry_unprobed)
			return 0;
		/* Called by mallocgc, which has no probe: the allocation is
		 * its caller's. RBP is mallocgc's frame; above it lie the
		 * caller's return address and frame pointer, as they lie at
		 * SP and in RBP at mallocgc's own entry. */
		for (__u32 i = 0; i < MWS_MAX_ALLOCATOR_FRAMES; i++) {
			__u64 saved_bp = 0, ret = 0;
			if (fp == 0 || !chunk_pair(chunk, fp, &saved_bp, &ret)) {
				caller = 0;
				fp = 0;
				break;
			}
			caller = ret;
			fp = saved_bp;
			if (!called_by_allocator(chunk, ret))
				break;
		}
	}
	return count_alloc(ctx, chunk, PT_REGS_RC(ctx), ctx->bx, caller, fp);
}

/* mProf_Malloc(p unsafe.Pointer, size uintptr), Go 1.17-1.22, or
 * mProf_Malloc(mp *m, p unsafe.Pointer, size uintptr), Go 1.23+: the
 * runtime's sampler chose this allocation. */
SEC("uprobe")
int on_mprof_malloc(struct pt_regs *ctx)
{
	if (!counted_entry(ctx))
		return 0;
	return emit_alloc(ctx, MWS_EV_SAMPLE_ALLOC, go_arg(ctx, mprof_args.size_arg), 0,
			  go_arg(ctx, mprof_args.object_arg));
}

/* Tiny allocations (under 16 B, no pointers) that fit into a block already
 * started return before the heap sampler runs: the sampler, and so pprof
 * and sampled mode, never sees them. The runtime counts them per P in
 * mcache.tinyAllocs and adds that to its total (the runtime/metrics
 * /gc/heap/tiny/allocs:objects) in exactly two places, which zero it after:
 * refill of the tiny span class (every 512 blocks) and releaseAll (every GC,
 * or a P going away). Read where they flush, the flushes in the window sum
 * to the tiny allocations the sampler missed. */
static __always_inline void count_tiny_flush(__u64 mcache)
{
	__u64 n = 0;
	if (read_u64(mcache, mprof_args.mcache_tiny_allocs_offset, &n) == 0 && n)
		count_n(MWS_CNT_TINY_ALLOCS, n);
}

/* The register `r` (enum mws_reg, a constant set before load: the
 * verifier keeps one branch). Every field is read at its fixed offset
 * first: a switch over the fields would be compiled into one load at a
 * computed offset, which the verifier refuses on the context. */
static __always_inline __u64 reg_value(struct pt_regs *ctx, __u32 r)
{
	__u64 ax = ctx->ax, bx = ctx->bx, cx = ctx->cx, dx = ctx->dx;
	__u64 si = ctx->si, di = ctx->di, bp = ctx->bp, r8 = ctx->r8;
	__u64 r9 = ctx->r9, r10 = ctx->r10, r11 = ctx->r11, r12 = ctx->r12;
	__u64 r13 = ctx->r13, r14 = ctx->r14, r15 = ctx->r15;

	asm volatile("" : "+r"(ax), "+r"(bx), "+r"(cx), "+r"(dx));
	asm volatile("" : "+r"(si), "+r"(di), "+r"(bp), "+r"(r8));
	asm volatile("" : "+r"(r9), "+r"(r10), "+r"(r11), "+r"(r12));
	asm volatile("" : "+r"(r13), "+r"(r14), "+r"(r15));
	switch (r) {
	case MWS_REG_AX: return ax;
	case MWS_REG_BX: return bx;
	case MWS_REG_CX: return cx;
	case MWS_REG_DX: return dx;
	case MWS_REG_SI: return si;
	case MWS_REG_DI: return di;
	case MWS_REG_BP: return bp;
	case MWS_REG_R8: return r8;
	case MWS_REG_R9: return r9;
	case MWS_REG_R10: return r10;
	case MWS_REG_R11: return r11;
	case MWS_REG_R12: return r12;
	case MWS_REG_R13: return r13;
	case MWS_REG_R14: return r14;
	case MWS_REG_R15: return r15;
	default: return 0;
	}
}

/* refill(c *mcache, spc spanClass), inside `if spc == tinySpanClass`: the
 * load of c.tinyAllocs (MOVQ off(Rc), Rx, found by disassembly; userspace
 * names Rc). Hit only when the tiny span is refilled. */
SEC("uprobe")
int on_mcache_tiny_flush(struct pt_regs *ctx)
{
	if (is_target())
		count_tiny_flush(reg_value(ctx, mprof_args.tiny_flush_mcache_reg));
	return 0;
}

/* releaseAll(c *mcache), at its entry: c in RAX. */
SEC("uprobe")
int on_mcache_release_all(struct pt_regs *ctx)
{
	if (counted_entry(ctx))
		count_tiny_flush(ctx->ax);
	return 0;
}

/* One HTTP request reaches the server's handler (serverHandler.ServeHTTP's
 * entry, on the request's goroutine: R14): a counter, no event; with
 * routes in exact mode, the goroutine's request state starts over. */
SEC("uprobe")
int on_request(struct pt_regs *ctx)
{
	if (!counted_entry(ctx))
		return 0;
	count(MWS_CNT_REQUESTS);
	/* Sampled mode names requests by key (events.h, "Routes"): only counted here. */
	if (routes_enabled && !requests_keyed)
		start_request(ctx->r14, 0);
	return 0;
}

/* A Go string's header (ptr, len) at user address `at`. */
static __always_inline bool read_go_string(__u64 at, __u64 *ptr, __u64 *len)
{
	__u64 h[2];
	if (at == 0 || bpf_probe_read_user(h, sizeof(h), (void *)at) != 0)
		return false;
	*ptr = h[0];
	*len = h[1];
	return true;
}

/* Copies at most MWS_ROUTE_SEGMENT_BYTES of the string (ptr, len) into
 * segment i, never past its length (Go strings have no NUL). */
static __always_inline bool copy_segment(struct mws_route_event *e, __u32 i, __u64 ptr, __u64 len)
{
	if (i >= MWS_ROUTE_MAX_SEGMENTS)
		return false;
	__u64 n = len > MWS_ROUTE_SEGMENT_BYTES ? MWS_ROUTE_SEGMENT_BYTES : len;
	if (len > MWS_ROUTE_SEGMENT_BYTES)
		e->route_flags |= MWS_ROUTE_FLAG_TRUNCATED;
	e->segment_len[i] = 0;
	/* Bounded again after a barrier: clang narrows n to 32 bits and the
	 * verifier loses the bound of the clamp above. */
	asm volatile("" : "+r"(n));
	if (n > MWS_ROUTE_SEGMENT_BYTES)
		return false;
	if (n > 0 && bpf_probe_read_user(e->segment[i & (MWS_ROUTE_MAX_SEGMENTS - 1)], n, (void *)ptr) != 0) {
		e->route_flags |= MWS_ROUTE_FLAG_READ_ERROR;
		return false;
	}
	e->segment_len[i] = n;
	return true;
}

/* The method's class from its first bytes (a little-endian word, zero
 * padded): the bytes a client sends never become a label. */
static __always_inline __u32 method_class(__u64 ptr, __u64 len)
{
	__u64 w = 0;
	if (len == 0 || len > 7)
		return len == 0 ? MWS_METHOD_UNKNOWN : MWS_METHOD_OTHER;
	if (bpf_probe_read_user(&w, len & 7, (void *)ptr) != 0)
		return MWS_METHOD_UNKNOWN;
#define MWS_WORD(a, b, c, d, e, f, g) \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48)
	switch (w) {
	case MWS_WORD('G', 'E', 'T', 0, 0, 0, 0): return MWS_METHOD_GET;
	case MWS_WORD('H', 'E', 'A', 'D', 0, 0, 0): return MWS_METHOD_HEAD;
	case MWS_WORD('P', 'O', 'S', 'T', 0, 0, 0): return MWS_METHOD_POST;
	case MWS_WORD('P', 'U', 'T', 0, 0, 0, 0): return MWS_METHOD_PUT;
	case MWS_WORD('P', 'A', 'T', 'C', 'H', 0, 0): return MWS_METHOD_PATCH;
	case MWS_WORD('D', 'E', 'L', 'E', 'T', 'E', 0): return MWS_METHOD_DELETE;
	case MWS_WORD('O', 'P', 'T', 'I', 'O', 'N', 'S'): return MWS_METHOD_OPTIONS;
	case MWS_WORD('C', 'O', 'N', 'N', 'E', 'C', 'T'): return MWS_METHOD_CONNECT;
	case MWS_WORD('T', 'R', 'A', 'C', 'E', 0, 0): return MWS_METHOD_TRACE;
	default: return MWS_METHOD_OTHER;
	}
#undef MWS_WORD
}

/* The request's method where the site says the request is. */
static __always_inline __u32 route_method(struct pt_regs *ctx, const struct mws_route_site *site, __u64 obj)
{
	__u64 req = 0, ptr = 0, len = 0;
	switch (site->request_at) {
	case MWS_REQ_REG:
		req = reg_value(ctx, site->request_reg);
		break;
	case MWS_REQ_STACK:
		if (bpf_probe_read_user(&req, sizeof(req), (void *)(PT_REGS_SP(ctx) + site->request_off)) != 0)
			return MWS_METHOD_UNKNOWN;
		break;
	case MWS_REQ_FIELD:
		if (read_u64(obj, site->request_off, &req) != 0)
			return MWS_METHOD_UNKNOWN;
		break;
	case MWS_REQ_METHOD_FIELD:
		if (site->request_off < 0 || !read_go_string(obj + site->request_off, &ptr, &len))
			return MWS_METHOD_UNKNOWN;
		return method_class(ptr, len);
	default:
		return MWS_METHOD_UNKNOWN;
	}
	if (!read_go_string(req, &ptr, &len)) /* Method is http.Request's first field */
		return MWS_METHOD_UNKNOWN;
	return method_class(ptr, len);
}

/* echo 4 leaves the raw path in its context when nothing matched: a
 * "pattern" that is the request URL's Path or RawPath is no route. */
static __always_inline bool is_raw_path(struct pt_regs *ctx, const struct mws_route_site *site, __u64 obj, __u64 ptr)
{
	__u64 req = 0, url = 0, path = 0, raw = 0;
	if (site->url_off < 0 || read_u64(obj, site->request_off, &req) != 0 || read_u64(req, site->url_off, &url) != 0)
		return false;
	read_u64(url, site->url_path_off, &path);
	read_u64(url, site->url_rawpath_off, &raw);
	return ptr != 0 && (ptr == path || ptr == raw);
}

/* Reads the pattern as the site says into e's segments, and where each
 * segment lives into ptrs; false when the router matched nothing. */
static __always_inline bool read_route(struct pt_regs *ctx, const struct mws_route_site *site,
				       struct mws_route_event *e, __u64 *obj_out, __u64 *ptrs)
{
	__u64 obj = reg_value(ctx, site->reg), ptr = 0, len = 0;
	*obj_out = obj;
	if (site->match_reg != MWS_REG_NONE && reg_value(ctx, site->match_reg) == 0)
		return false;
	if (site->shape == MWS_ROUTE_STRING_REGS) {
		len = reg_value(ctx, site->len_reg);
		ptrs[0] = obj;
		return len > 0 && copy_segment(e, 0, obj, len) && (e->segments = 1);
	}
	__u64 base = obj;
	if (site->deref_off >= 0 && read_u64(obj, site->deref_off, &base) != 0) {
		e->route_flags |= MWS_ROUTE_FLAG_READ_ERROR;
		return false;
	}
	if (site->pattern_off < 0 || base == 0 || !read_go_string(base + site->pattern_off, &ptr, &len)) {
		e->route_flags |= MWS_ROUTE_FLAG_READ_ERROR;
		return false;
	}
	if (site->shape == MWS_ROUTE_STRING_AT) {
		if (len == 0 || is_raw_path(ctx, site, obj, ptr))
			return false;
		ptrs[0] = ptr;
		return copy_segment(e, 0, ptr, len) && (e->segments = 1);
	}
	/* MWS_ROUTE_STRINGS_AT: (ptr, len) is the slice's; its elements are strings. */
	if (len > MWS_ROUTE_MAX_SEGMENTS)
		e->route_flags |= MWS_ROUTE_FLAG_TRUNCATED;
	for (__u32 i = 0; i < MWS_ROUTE_MAX_SEGMENTS; i++) {
		__u64 sp = 0, sl = 0;
		if (i >= len)
			break;
		if (!read_go_string(ptr + 16 * i, &sp, &sl) || !copy_segment(e, i, sp, sl))
			return false;
		ptrs[i & (MWS_ROUTE_MAX_SEGMENTS - 1)] = sp;
		e->segments = i + 1;
	}
	return e->segments > 0;
}

/* FNV-1a over the first `len` bytes of a segment. */
static __always_inline __u64 hash_bytes(const char *b, __u32 len)
{
	__u64 h = 0xcbf29ce484222325ull;
	for (__u32 i = 0; i < MWS_ROUTE_SEGMENT_BYTES; i++) {
		if (i >= len)
			break;
		h ^= (__u8)b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A route's id: its router, its method's class and where its pattern
 * lives (the router's table: one route, one address), mixed as
 * assign_spawn_ctx mixes. Never 0 nor MWS_ROUTE_ID_NONE, and never with
 * the tag bits. */
static __always_inline __u64 route_id(const struct mws_route_event *e, const __u64 *ptrs)
{
	__u64 h = (__u64)e->router << 32 | e->method;
	for (__u32 i = 0; i < MWS_ROUTE_MAX_SEGMENTS; i++) {
		h ^= ptrs[i] + e->segment_len[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
	}
	h &= MWS_ROUTE_TAG_ID_MASK;
	return h <= MWS_ROUTE_ID_NONE ? h + 2 : h;
}

/* Sampled mode, at a route site: the frame pointer of (*conn).serve's
 * frame when the walk from here meets its call of the request (0: none,
 * an HTTP/2 request or a stack past the walk's depth). */
static __always_inline __u64 find_key_bp(struct pt_regs *ctx, struct stack_chunk *c)
{
	const __u64 key_ret = request_key_site.ret + c->load_bias;
	__u64 fp = ctx->bp;
	for (__u32 i = 1; i < MWS_MAX_STACK_DEPTH; i++) {
		__u64 saved_bp, ret;
		if (fp == 0 || !chunk_pair(c, fp, &saved_bp, &ret) || ret == 0)
			return 0;
		if (ret == key_ret)
			return saved_bp;
		if (saved_bp == fp)
			return 0;
		fp = saved_bp;
	}
	return 0;
}

/* A router's route site (one per router, docs/design/routes.md): the
 * pattern it matched for the request that goroutine R14 serves. Sets the
 * request's route (unless provisional) and sends a route event. */
SEC("uprobe")
int on_route(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__u64 at = bpf_get_attach_cookie(ctx) & MWS_COOKIE_VADDR_MASK;
	const struct mws_route_site *site = bpf_map_lookup_elem(&route_sites, &at);
	__u32 zero = 0;
	struct mws_route_event *e = bpf_map_lookup_elem(&route_scratch, &zero);
	if (!site || !e)
		return 0;
	fill_header(&e->hdr, MWS_EV_ROUTE);
	e->hdr.flags = 0;
	e->router = site->router;
	e->route_flags = 0;
	e->segments = 0;
	e->_reserved = 0;
	for (__u32 i = 0; i < MWS_ROUTE_MAX_SEGMENTS; i++)
		e->segment_len[i] = 0;
	__u64 obj = 0, ptrs[MWS_ROUTE_MAX_SEGMENTS] = {};
	const bool matched = read_route(ctx, site, e, &obj, ptrs);
	e->method = route_method(ctx, site, obj);
	if (matched) {
		/* The old ServeMux's trailing-slash redirect returns a pattern
		 * made afresh per request (path + "/", text equal to a registered
		 * pattern): its address would make an id per request, so this
		 * router's id comes from the bytes. */
		if (site->router == MWS_ROUTER_SERVEMUX_PATH)
			ptrs[0] = hash_bytes(e->segment[0], e->segment_len[0]);
		e->route_id = route_id(e, ptrs);
		/* A ServeMux subtree pattern ends in '/': another router may come. */
		__u32 last = e->segment_len[0] - 1;
		if ((site->router == MWS_ROUTER_SERVEMUX || site->router == MWS_ROUTER_SERVEMUX_PATH) &&
		    e->segment_len[0] > 0 && last < MWS_ROUTE_SEGMENT_BYTES && e->segment[0][last] == '/')
			e->route_flags |= MWS_ROUTE_FLAG_PROVISIONAL;
	} else {
		e->route_id = MWS_ROUTE_ID_NONE;
		e->route_flags |= MWS_ROUTE_FLAG_NO_MATCH;
		e->segments = 0;
	}
	e->g = ctx->r14;
	e->serial = 0;
	struct mws_request_state *st = NULL;
	if (routes_enabled && requests_keyed) {
		struct stack_chunk *c = empty_chunk(ctx);
		if (c)
			st = keyed_state(e->g, request_key(find_key_bp(ctx, c), e->g));
	} else if (routes_enabled) {
		st = bpf_map_lookup_elem(&request_state, &e->g);
	}
	if (st) {
		e->serial = READ_ONCE(st->serial);
		if (!(e->route_flags & MWS_ROUTE_FLAG_PROVISIONAL)) {
			WRITE_ONCE(st->route_tag, e->route_id);
			route_pending(e->g, e->serial, e->route_id);
		}
	}
	const __u32 segments = e->segments;
	const __u32 last_len = segments ? e->segment_len[(segments - 1) & (MWS_ROUTE_MAX_SEGMENTS - 1)] : 0;
	if (bpf_ringbuf_output(&events, e, mws_route_event_bytes(segments, last_len), wakeup_flags()) != 0)
		count(MWS_CNT_RINGBUF_DROPS);
	return 0;
}

/* Does nothing but the PID check: attached instead of the real programs,
 * it is the benchmark's baseline for what a probe hit costs the target
 * before any of our work. */
SEC("uprobe")
int on_empty(struct pt_regs *ctx)
{
	return is_target();
}

/* The new goroutine's spawn context from its creator's (the goroutine
 * behind R14: at newproc's runqput call and newproc1's RET, R14 is g0 and
 * m.curg the creator; at newcoro's RET, the creator itself) and its
 * creation stack, kept under the new g. A full map is counted: that
 * goroutine's allocations then carry no context. */
static __always_inline struct mws_goid_ctx *goid_slot(__u64 goid)
{
	__u32 i = goid & (MWS_GOID_CTX_SLOTS - 1);
	return bpf_map_lookup_elem(&goid_ctx, &i);
}

/* The creator's context from its goid's slot; false when the slot holds
 * another goroutine (or is being rewritten: its goid is checked again). */
static __always_inline bool creator_ctx_by_goid(__u64 parent_goid, __u64 *ctx_out, __u32 *depth_out)
{
	struct mws_goid_ctx *s = parent_goid ? goid_slot(parent_goid) : NULL;
	if (!s || READ_ONCE(s->goid) != parent_goid)
		return false;
	*ctx_out = READ_ONCE(s->ctx);
	*depth_out = READ_ONCE(s->depth);
	barrier();
	return READ_ONCE(s->goid) == parent_goid;
}

/* The new goroutine's context in its goid's slot, for its own children. */
static __always_inline void keep_ctx_by_goid(__u64 goid, const struct mws_spawn_ctx *c)
{
	struct mws_goid_ctx *s = goid_slot(goid);
	if (!s)
		return;
	WRITE_ONCE(s->goid, 0);
	barrier();
	WRITE_ONCE(s->ctx, c->ctx);
	WRITE_ONCE(s->depth, c->depth);
	barrier();
	WRITE_ONCE(s->goid, goid);
}

static __always_inline void assign_spawn_ctx(struct pt_regs *ctx, struct mws_task_spawn_event *e, __u64 parent_goid)
{
	e->spawn_ctx = 0;
	e->parent_ctx = 0;
	if (!spawn_ctx_off.enabled)
		return;
	struct mws_spawn_ctx next = {};
	if (!creator_ctx_by_goid(parent_goid, &e->parent_ctx, &next.depth)) {
		struct mws_spawn_ctx *parent = spawn_ctx_of(ctx->r14);
		if (parent) {
			e->parent_ctx = parent->ctx;
			next.depth = parent->depth;
			/* Its slot back: a long-lived creator (an accept loop) loses
			 * it to a newer goroutine once every MWS_GOID_CTX_SLOTS spawns. */
			if (parent_goid)
				keep_ctx_by_goid(parent_goid, parent);
		}
	}
	if (next.depth >= MWS_SPAWN_CTX_MAX_DEPTH) {
		next.ctx = e->parent_ctx;
	} else {
		/* A 64-bit finaliser (murmur3's) over the creator's context and the
		 * creation stack: distinct chains, distinct ids. Never 0. */
		__u64 h = hash_stack(e->caller, e->stack, e->stack_len) ^ (e->parent_ctx * 0x9e3779b97f4a7c15ull);
		h ^= h >> 33;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 33;
		next.ctx = h ? h : 1;
		next.depth++;
	}
	e->spawn_ctx = next.ctx;
	keep_ctx_by_goid(e->goid, &next);
	/* A reused g (the common case: Go keeps ended goroutines' g for the
	 * next) is overwritten in place, cheaper than an update; nothing reads
	 * its entry before the new goroutine runs. */
	struct mws_spawn_ctx *slot = bpf_map_lookup_elem(&spawn_ctx, &e->g_addr);
	if (slot) {
		*slot = next;
		__sync_fetch_and_add(&spawn_ctx_generation, 1); /* after the write: see ctx_cache */
		return;
	}
	if (bpf_map_update_elem(&spawn_ctx, &e->g_addr, &next, BPF_NOEXIST) != 0) {
		__u32 zero = MWS_SPAWN_CTX_LOST_FULL;
		__u64 *v = bpf_map_lookup_elem(&spawn_ctx_lost, &zero);
		if (v)
			*v += 1;
	}
}

struct g_ids {
	__u64 goid, startpc, gopc, parent_goid; /* parent_goid 0: unknown (before go1.21) */
};

/* The word at `off` of the g fields read from `lo` into the chunk. */
static __always_inline __u64 g_word(const struct stack_chunk *c, __s64 lo, __s64 off)
{
	return off < lo ? 0 : c->w[((off - lo) >> 3) & (MWS_STACK_CHUNK_WORDS - 1)];
}

/* The new g's goid, startpc, gopc and parentGoid with one read: they lie
 * within 160 bytes of each other in every supported version (goid first).
 * The chunk is only borrowed: it holds no stack after. */
static __always_inline bool read_g_ids(struct stack_chunk *c, __u64 g, struct g_ids *ids)
{
	const __s64 lo = go_off.g_goid;
	const __s64 hi = (go_off.g_startpc > go_off.g_gopc ? go_off.g_startpc : go_off.g_gopc) + 8;
	ids->startpc = 0;
	ids->gopc = 0;
	ids->parent_goid = 0;
	if (lo < 0 || go_off.g_startpc < lo || go_off.g_gopc < lo || go_off.g_parent_goid >= hi || hi - lo > 256) {
		if (read_u64(g, go_off.g_goid, &ids->goid) != 0)
			return false;
		read_u64(g, go_off.g_startpc, &ids->startpc);
		read_u64(g, go_off.g_gopc, &ids->gopc);
		read_u64(g, go_off.g_parent_goid, &ids->parent_goid);
		return true;
	}
	c->valid = 0;
	if (g == 0 || bpf_probe_read_user(c->w, (hi - lo) & 511, (void *)(g + lo)) != 0)
		return false;
	ids->goid = c->w[0];
	ids->startpc = g_word(c, lo, go_off.g_startpc);
	ids->gopc = g_word(c, lo, go_off.g_gopc);
	ids->parent_goid = g_word(c, lo, go_off.g_parent_goid);
	return true;
}

/* Whether the creation stack of `e` passes through net/http.serverHandler.ServeHTTP. */
static __always_inline bool in_request(const struct stack_chunk *c, const struct mws_task_spawn_event *e)
{
	return stack_in_request(c, e->stack, e->stack_len, e->caller);
}

/* One created goroutine: its g, its ids, the creator's stack, and its
 * spawn context. `caller`: the return address the probed CALL will push
 * (0: read it at [SP], at a RET). */
static __always_inline int emit_spawn(struct pt_regs *ctx, __u64 newg, __u64 caller)
{
	struct stack_chunk *c = empty_chunk(ctx);
	if (!c)
		return 0;
	struct g_ids ids = {};
	if (!read_g_ids(c, newg, &ids)) {
		count(MWS_CNT_TASK_READ_ERRORS);
		return 0;
	}
	__u32 zero = 0;
	struct mws_task_spawn_event *e = bpf_map_lookup_elem(&spawn_scratch, &zero);
	if (!e)
		return 0;
	fill_header(&e->hdr, MWS_EV_TASK_SPAWN);
	e->hdr.flags = 0;
	e->goid = ids.goid;
	e->g_addr = newg;
	e->startpc = ids.startpc;
	e->gopc = ids.gopc;
	e->_pad = 0;
	if (caller == 0)
		caller = read_caller(ctx, c);
	capture_stack(ctx, c, &e->hdr, caller, ctx->bp, &e->caller, e->stack, &e->stack_len);
	assign_spawn_ctx(ctx, e, ids.parent_goid);
	e->route_tag = 0;
	if (routes_enabled) {
		const __u64 creator = in_request(c, e) ? goroutine_behind(ctx->r14) : 0;
		/* Sampled mode: the creator's state must be its request's now. */
		if (creator && requests_keyed)
			keyed_state(creator, request_key(c->key_bp, creator));
		e->route_tag = inherit_request(creator, newg);
	}
	if (send_used(e, __builtin_offsetof(struct mws_task_spawn_event, stack), e->stack_len) != 0)
		count(MWS_CNT_RINGBUF_DROPS);
	return 0;
}

/* At newproc.func1's CALL runqput(pp, newg, true): newg in RBX (ABIInternal
 * argument 1). Mid-function, RBP is newproc.func1's own frame, so the walk
 * is whole; the return address this CALL pushes stands for the caller. */
SEC("uprobe")
int on_newproc_runqput(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	return emit_spawn(ctx, ctx->bx, ctx->ip + MWS_CALL_REL32_BYTES);
}

/* At newcoro's RET: RAX = the *coro; its g is the guintptr at go_off.coro_g. */
SEC("uprobe")
int on_newcoro_ret(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__u64 g = 0;
	if (read_u64(PT_REGS_RC(ctx), go_off.coro_g, &g) != 0) {
		count(MWS_CNT_TASK_READ_ERRORS);
		return 0;
	}
	return emit_spawn(ctx, g, 0);
}

/* At newproc1's RET: RAX = the new g, [SP] the return into its caller. */
SEC("uprobe")
int on_newproc1_ret(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	return emit_spawn(ctx, PT_REGS_RC(ctx), 0);
}

/* Adds the ending g to this CPU's batch; sends the batch when it is full
 * or its oldest exit is MWS_EXIT_BATCH_MAX_AGE_NS old. A full ring loses
 * the batch, counted exit by exit. */
static __always_inline int emit_exit(__u64 g)
{
	__u32 zero = 0;
	struct mws_exit_batch *b = bpf_map_lookup_elem(&exit_batch, &zero);
	if (!b)
		return 0;
	const __u64 now = bpf_ktime_get_ns();
	__u32 n = b->count;
	if (n >= MWS_EXIT_BATCH)
		n = 0;
	if (n == 0)
		b->oldest_ns = now;
	b->exit[n].g_addr = g;
	b->exit[n].ts_ns = now;
	b->count = ++n;
	if (n < MWS_EXIT_BATCH && now - b->oldest_ns < MWS_EXIT_BATCH_MAX_AGE_NS)
		return 0;
	struct mws_task_exits_event *e = reserve_event(sizeof(*e), MWS_EV_TASK_EXITS);
	if (e) {
		__builtin_memcpy(&e->batch, b, sizeof(*b));
		submit(e);
	} else {
		count_n(MWS_CNT_RINGBUF_DROPS, n - 1); /* reserve_event counted one */
	}
	b->count = 0;
	return 0;
}

/* At goexit1's entry: R14 = the ending goroutine's g. */
SEC("uprobe")
int on_goexit1(struct pt_regs *ctx)
{
	if (!counted_entry(ctx))
		return 0;
	return emit_exit(ctx->r14);
}

/* At gdestroy's entry (Go >= 1.22): gdestroy(gp *g), gp in RAX. It runs on
 * g0, so R14 is not the ending goroutine. */
SEC("uprobe")
int on_gdestroy(struct pt_regs *ctx)
{
	if (!counted_entry(ctx))
		return 0;
	return emit_exit(PT_REGS_RC(ctx));
}
