// SPDX-License-Identifier: GPL-2.0
/* Exact-mode allocation probe: runs at the entry of Go's runtime.mallocgc
 * (placed on the prologue's JBE so the kernel emulates the probed
 * instruction instead of single-stepping it) and streams one
 * mws_alloc_event per allocation of the target process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Set through skel->rodata before load. */
const volatile __u32 target_tgid = 0;
/* Wake the consumer only when this many bytes are waiting, so a busy target
 * costs one wakeup per batch instead of one per event; the consumer also
 * polls on a timer, so a quiet ring is drained too. */
const volatile __u64 wakeup_bytes = 256 * 1024;

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

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									    : BPF_RB_NO_WAKEUP;
}

/* Unwinds the user stack by following RBP, which Go keeps as a frame
 * pointer on amd64: [RBP] holds the caller's RBP, [RBP+8] the return
 * address. stack[0] is the probed instruction. Walking it here costs
 * ~0.4 us per event on our VMs where bpf_get_stack(BPF_F_USER_STACK)
 * costs ~8 us (kernel 6.18), measured with `make bench`. Stops at a zero
 * or unreadable frame pointer, or a frame that points at itself. */
static __always_inline __u32 walk_frame_pointers(struct pt_regs *ctx, __u64 *stack)
{
	__u64 fp = ctx->bp;
	__u32 i;

	stack[0] = ctx->ip;
	for (i = 1; i < MWS_MAX_STACK_DEPTH; i++) {
		__u64 frame[2]; /* saved RBP, return address */

		if (fp == 0 || bpf_probe_read_user(frame, sizeof(frame), (void *)fp) != 0)
			break;
		if (frame[1] == 0)
			break;
		stack[i] = frame[1];
		if (frame[0] == fp)
			return i + 1;
		fp = frame[0];
	}
	return i;
}

/* Go ABIInternal (amd64): mallocgc(size uintptr, typ *_type, needzero bool)
 * has size in RAX and typ in RBX. */
SEC("uprobe")
int on_mallocgc(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) != target_tgid)
		return 0;
	count(MWS_CNT_PROBE_HITS);
	/* mallocgc(0) returns &zerobase: no allocation, and Go's own profile
	 * does not record it either. */
	if (PT_REGS_RC(ctx) == 0)
		return 0;

	struct mws_alloc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(MWS_CNT_RINGBUF_DROPS);
		return 0;
	}
	e->hdr.kind = MWS_EV_ALLOC;
	e->hdr.pid = pid_tgid >> 32;
	e->hdr.tid = (__u32)pid_tgid;
	e->hdr.flags = 0;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->size = PT_REGS_RC(ctx);	      /* RAX */
	e->type_addr = ctx->bx;		      /* RBX */
	e->_pad = 0;

	/* The caller's return address is at [SP]: RBP still belongs to the
	 * caller's frame, so the frame-pointer walk skips the direct caller. */
	if (bpf_probe_read_user(&e->caller, sizeof(e->caller), (void *)PT_REGS_SP(ctx)) != 0) {
		e->caller = 0;
		e->hdr.flags |= MWS_FLAG_NO_CALLER;
	}

	__u32 depth = walk_frame_pointers(ctx, e->stack);
	e->stack_len = depth;
	if (depth <= 1 && ctx->bp != 0)
		count(MWS_CNT_STACK_ERRORS);
	if (depth == MWS_MAX_STACK_DEPTH)
		e->hdr.flags |= MWS_FLAG_STACK_TRUNCATED;
	count(MWS_CNT_EVENTS_SUBMITTED);
	bpf_ringbuf_submit(e, submit_flags());
	return 0;
}

/* The same hook doing nothing but the PID check: the benchmark's baseline
 * for what a probe hit costs the target before any of our work. */
SEC("uprobe")
int on_mallocgc_empty(struct pt_regs *ctx)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}
