// SPDX-License-Identifier: GPL-2.0
/* BPF programs for the C heap (--c-heap): glibc's allocator, in the libc the
 * target maps, for Go targets (memory behind cgo) and plain C processes
 * alike. Its own object and ring buffer: nothing here depends on Go being
 * there.
 *
 *  on_c_alloc_entry   entry of malloc, calloc, realloc, memalign/aligned_alloc,
 *                     posix_memalign: keeps the arguments per thread
 *  on_c_alloc_return  uretprobe of the same: the block, with the stack
 *  on_c_empty         benchmarks only: the bare cost of these probes' hits
 *  on_c_free          entry of free (not inside an allocator call: realloc(p, 0)
 *                     frees p through free, and reports it itself)
 *
 * These are C functions, running on a thread's own stack (in a Go target,
 * on g0's system stack, which never moves): a uretprobe is safe there,
 * unlike on a Go function. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#include "frame_walk.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
const volatile __u64 wakeup_bytes = 256 * 1024;
const volatile struct mws_cgo_context cgo = {};

/* Set by userspace once every probe is attached, cleared before detaching. */
volatile __u32 window_open = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 * 1024 * 1024); /* resized before load */
} c_events SEC(".maps");

/* Where an allocation event is built before its used part is sent
 * (frame_walk.h, mws_event_bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mws_c_alloc_event);
} c_alloc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MWS_C_CNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} c_counters SEC(".maps");

/* The allocator calls in progress on a thread, outermost first, from entry
 * to return. glibc's realloc(NULL, n) calls malloc through its public
 * entry: a call inside another is not reported, the outermost one is. */
struct c_call {
	__u64 size;
	__u64 arg; /* realloc: the old block; posix_memalign: where the block goes */
	__u32 func;
	__u32 _pad;
};

#define MWS_C_MAX_NESTING 4
struct c_calls_of_thread {
	__u32 depth;
	__u32 _pad;
	struct c_call call[MWS_C_MAX_NESTING];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct c_calls_of_thread);
} c_calls SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&c_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline bool is_target(void)
{
	return window_open && (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&c_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
										: BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct mws_event_header *h, __u32 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
}

static __always_inline void *reserve(__u64 size, __u32 kind)
{
	struct mws_event_header *h = bpf_ringbuf_reserve(&c_events, size, 0);
	if (!h) {
		count(MWS_C_CNT_RINGBUF_DROPS);
		return NULL;
	}
	fill_header(h, kind);
	return h;
}

static __always_inline __u64 read_word(__u64 addr)
{
	__u64 v = 0;
	if (addr == 0 || bpf_probe_read_user(&v, sizeof(v), (void *)addr) != 0)
		return 0;
	return v;
}


/* The goroutine whose cgo call runs on this thread, its Go stack appended
 * at stack[at]; returns the new length and flags what it found. */
static __always_inline __u32 append_go_stack(struct mws_c_alloc_event *e, __u32 at)
{
	if (cgo.tls_g_offset == 0)
		return at;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	if (fsbase == 0)
		return at;
	__u64 g = read_word(fsbase + cgo.tls_g_offset);
	__u64 m = g ? read_word(g + cgo.g_m) : 0;
	__u64 curg = m ? read_word(m + cgo.m_curg) : 0;
	__u64 sp = curg ? read_word(curg + cgo.g_syscallsp) : 0;
	if (sp == 0)
		return at; /* a runtime thread, or C code Go did not call */
	__u64 pc = read_word(curg + cgo.g_syscallpc);
	if (pc != cgo.cgocall_ret) {
		e->hdr.flags |= MWS_C_FLAG_GO_UNMATCHED;
		return at;
	}
	e->hdr.flags |= MWS_C_FLAG_GO_STACK;
	if (at >= MWS_MAX_STACK_DEPTH)
		return at;
	e->stack[at] = pc;
	return follow_frame_pointers(sp + cgo.cgocall_bp_from_sp, e->stack, at + 1);
}

SEC("uprobe")
int on_c_alloc_entry(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct c_call call = {.func = (__u32)bpf_get_attach_cookie(ctx)};
	switch (call.func) {
	case MWS_C_MALLOC:
		call.size = PT_REGS_PARM1(ctx);
		break;
	case MWS_C_CALLOC:
		call.size = PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
		break;
	case MWS_C_REALLOC:
		call.arg = PT_REGS_PARM1(ctx);
		call.size = PT_REGS_PARM2(ctx);
		break;
	case MWS_C_MEMALIGN:
		call.size = PT_REGS_PARM2(ctx);
		break;
	case MWS_C_POSIX_MEMALIGN:
		call.arg = PT_REGS_PARM1(ctx);
		call.size = PT_REGS_PARM3(ctx);
		break;
	default:
		return 0;
	}
	struct c_calls_of_thread *t = bpf_map_lookup_elem(&c_calls, &tid);
	if (!t) {
		struct c_calls_of_thread none = {};
		bpf_map_update_elem(&c_calls, &tid, &none, BPF_ANY);
		t = bpf_map_lookup_elem(&c_calls, &tid);
		if (!t)
			return 0;
	}
	__u32 d = t->depth;
	if (d < MWS_C_MAX_NESTING)
		t->call[d] = call;
	t->depth = d + 1;
	return 0;
}

SEC("uretprobe")
int on_c_alloc_return(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct c_calls_of_thread *t = bpf_map_lookup_elem(&c_calls, &tid);
	if (!t || t->depth == 0) {
		count(MWS_C_CNT_UNMATCHED_RETURNS);
		return 0;
	}
	__u32 d = --t->depth;
	if (d > 0)
		return 0; /* inside another allocator call, which reports the block */
	struct c_call c = t->call[0];

	__u64 ptr = PT_REGS_RC(ctx);
	if (c.func == MWS_C_POSIX_MEMALIGN)
		ptr = ptr == 0 ? read_word(c.arg) : 0; /* 0 = success: the block is at *memptr */
	/* A failed allocation changes nothing, except realloc(p, 0), which frees p. */
	if (ptr == 0 && !(c.func == MWS_C_REALLOC && c.size == 0 && c.arg != 0))
		return 0;

	__u32 zero = 0;
	struct mws_c_alloc_event *e = bpf_map_lookup_elem(&c_alloc_scratch, &zero);
	if (!e)
		return 0;
	fill_header(&e->hdr, MWS_EV_C_ALLOC);
	e->ptr = ptr;
	e->size = c.size;
	e->old_ptr = c.func == MWS_C_REALLOC ? c.arg : 0;
	e->func = c.func;
	e->_pad = 0;
	/* After the return, RIP is the return address into the allocator's
	 * caller and RBP that caller's frame pointer (glibc's allocator keeps it
	 * callee-saved), so the walk starts one frame up. */
	e->stack[0] = PT_REGS_IP(ctx);
	__u32 n = 1;
	if (cgo.walk_c_frames)
		n = follow_frame_pointers(PT_REGS_FP(ctx), e->stack, 1);
	e->c_frames = n;
	e->stack_len = append_go_stack(e, n);
	if (bpf_ringbuf_output(&c_events, e, mws_event_bytes(__builtin_offsetof(struct mws_c_alloc_event, stack), e->stack_len),
			       wakeup_flags()) != 0)
		count(MWS_C_CNT_RINGBUF_DROPS);
	return 0;
}

SEC("uprobe")
int on_c_free(struct pt_regs *ctx)
{
	__u64 ptr = PT_REGS_PARM1(ctx);
	if (ptr == 0 || !is_target())
		return 0;
	/* realloc(p, 0) frees p through free: the realloc reports it. */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct c_calls_of_thread *t = bpf_map_lookup_elem(&c_calls, &tid);
	if (t && t->depth > 0)
		return 0;
	struct mws_c_free_event *e = reserve(sizeof(*e), MWS_EV_C_FREE);
	if (!e)
		return 0;
	e->ptr = ptr;
	/* glibc's chunk header: the size word just below the block, its low
	 * three bits flags. */
	e->chunk_bytes = read_word(ptr - 8) & ~7ull;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("uprobe")
int on_c_empty(struct pt_regs *ctx)
{
	return 0;
}
