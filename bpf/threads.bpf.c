// SPDX-License-Identifier: GPL-2.0
/* BPF programs for --threads: the OS threads of the target, whatever its
 * runtime (Go, C, C++). Their own object, ring buffer and counters, so they
 * load for a target that has no Go runtime at all.
 *
 *  on_task_newtask     tracepoint task:task_newtask, in the creating thread:
 *                      a new thread of the target (CLONE_THREAD), with the
 *                      creator's user stack (Go's newosproc, pthread_create)
 *  on_sched_process_exit  tracepoint sched:sched_process_exit, in the
 *                      exiting thread: a thread of the target ended
 *
 * Tracepoints fire in the kernel: the target executes no trap for them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#include "frame_walk.h"

char LICENSE[] SEC("license") = "GPL";

#define MWS_CLONE_THREAD 0x00010000 /* linux/sched.h; not in vmlinux.h (a #define) */

/* Set through skel->rodata before load. */
const volatile __u32 target_tgid = 0;
/* Wake the consumer only when this many bytes wait (it also polls on a
 * timer): a wakeup per event would have mwscope's thread compete with a
 * target that creates threads in a loop. */
const volatile __u64 wakeup_bytes = 64 * 1024;

/* Opened once every program is attached, closed before any is detached:
 * creations and exits count over one window (as in go.bpf.c). */
volatile __u32 window_open = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024); /* resized before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MWS_TCNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline int in_target(void)
{
	return window_open && (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct mws_event_header *h, __u32 kind, __u32 tid)
{
	h->kind = kind;
	h->pid = target_tgid;
	h->tid = tid;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
}

/* The creating thread's user stack, innermost first (stack[0] its user
 * pc), by frame pointers from the registers it entered the kernel with.
 * Not bpf_get_stack(BPF_F_USER_STACK): glibc's clone and pthread_create
 * keep no frame pointer, RBP holds data there, and the kernel's walk then
 * follows it to the depth limit (~30 us a thread here, make bench). This
 * walk stops at the first frame that does not lie above the last one. */
static __always_inline __u32 walk_user_stack(__u64 *stack)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	stack[0] = regs->ip;
	return follow_frame_pointers(regs->bp, stack, 1);
}

SEC("tp_btf/task_newtask")
int BPF_PROG(on_task_newtask, struct task_struct *task, __u64 clone_flags)
{
	if (!in_target() || !(clone_flags & MWS_CLONE_THREAD))
		return 0;
	struct mws_thread_new_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(MWS_TCNT_RINGBUF_DROPS);
		return 0;
	}
	fill_header(&e->hdr, MWS_EV_THREAD_NEW, task->pid);
	e->parent_tid = (__u32)bpf_get_current_pid_tgid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->stack_len = walk_user_stack(e->stack);
	if (e->stack_len == 0)
		count(MWS_TCNT_STACK_ERRORS);
	if (e->stack_len == MWS_MAX_STACK_DEPTH)
		e->hdr.flags |= MWS_FLAG_STACK_TRUNCATED;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_sched_process_exit, struct task_struct *p)
{
	if (!in_target())
		return 0;
	struct mws_thread_exit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(MWS_TCNT_RINGBUF_DROPS);
		return 0;
	}
	fill_header(&e->hdr, MWS_EV_THREAD_EXIT, (__u32)bpf_get_current_pid_tgid());
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}
