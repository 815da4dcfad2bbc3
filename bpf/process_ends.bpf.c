// SPDX-License-Identifier: GPL-2.0
/* BPF programs for `mwscope serve`: how its targets end. Kernel
 * tracepoints only (no uprobe, nothing in any process's code), for every
 * process of the host:
 *
 *  on_mark_victim      raw tracepoint oom:mark_victim: the OOM killer chose
 *                      a victim. It fires before the victim dies (the
 *                      SIGKILL is sent after it), so the agent can still
 *                      read the victim's memory.
 *  on_process_exit     tracepoint sched:sched_process_exit, in the exiting
 *                      thread: the last thread of a watched process ended,
 *                      with its wait status (killed by SIGKILL or not).
 *
 * Both are rare events: each wakes the consumer at once. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define MWS_SIGNAL_GROUP_EXIT 0x00000004 /* linux/sched/signal.h; a #define, not in vmlinux.h */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MWS_WATCHED_EXITS_MAX);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* 1 */
} watched_exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MWS_ECNT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct mws_process_end_event *reserve(__u32 kind, __u32 pid, __u32 tid)
{
	struct mws_process_end_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(MWS_ECNT_RINGBUF_DROPS);
		return 0;
	}
	e->hdr.kind = kind;
	e->hdr.pid = pid;
	e->hdr.tid = tid;
	e->hdr.flags = 0;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->wait_status = 0;
	e->_pad = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	return e;
}

/* The tracepoint's first argument is the victim's task_struct since the
 * kernel added comm (and rss, uid...) to the event; before, it was the
 * victim thread's pid. The running kernel's BTF says which. */
SEC("raw_tp/mark_victim")
int on_mark_victim(struct bpf_raw_tracepoint_args *ctx)
{
	if (bpf_core_field_exists(struct trace_event_raw_mark_victim, __data_loc_comm)) {
		struct task_struct *task = (struct task_struct *)ctx->args[0];
		__u32 tgid = BPF_CORE_READ(task, tgid);
		__u32 tid = BPF_CORE_READ(task, pid);
		struct mws_process_end_event *e = reserve(MWS_EV_OOM_VICTIM, tgid, tid);
		if (!e)
			return 0;
		BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
		bpf_ringbuf_submit(e, 0);
	} else {
		__u32 tid = (__u32)ctx->args[0];
		struct mws_process_end_event *e = reserve(MWS_EV_OOM_VICTIM, tid, tid);
		if (!e)
			return 0;
		e->hdr.flags = MWS_FLAG_PID_IS_TID;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	if (!bpf_map_lookup_elem(&watched_exits, &tgid))
		return 0;
	/* Each thread leaves signal->live before this tracepoint: the threads
	 * that find it at 0 are the last ones, and the one that removes the
	 * process from the map reports it, once. */
	struct signal_struct *sig = p->signal;
	if (sig->live.counter != 0)
		return 0;
	if (bpf_map_delete_elem(&watched_exits, &tgid) != 0)
		return 0;
	struct mws_process_end_event *e = reserve(MWS_EV_PROCESS_EXIT, tgid, p->pid);
	if (!e)
		return 0;
	/* exit_group() and a fatal signal set the group's code; otherwise the
	 * last thread's own (exit() of a single-threaded process). */
	e->wait_status = (sig->flags & MWS_SIGNAL_GROUP_EXIT) ? (__u32)sig->group_exit_code : (__u32)p->exit_code;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
