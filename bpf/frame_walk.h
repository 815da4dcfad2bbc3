/* The frame-pointer walk of the native stacks (bpf/native.bpf.c,
 * bpf/threads.bpf.c), and the length of an event that carries a stack. go.bpf.c keeps its own, tuned for the exact-mode
 * allocation path the verifier already finds long (folded into one shared
 * loop, on_mallocgc was rejected). x86-64 code built with frame pointers keeps, at RBP, the
 * caller's RBP and above it the return address. Included by the BPF
 * programs only (it uses BPF helpers). */
#ifndef MWSCOPE_FRAME_WALK_H
#define MWSCOPE_FRAME_WALK_H

#include "events.h"

/* Appends to stack[at..) the return addresses found by following frame
 * pointers from `fp`; returns the new length, at most MWS_MAX_STACK_DEPTH.
 * Stops at a zero or unreadable frame pointer or a zero return address.
 * Also stops at a frame that does not lie above the last: on one native
 * stack callers' frames sit higher, and C code without frame pointers
 * leaves data in RBP. (Go's walk cannot ask that: a chain from the system
 * stack, g0, leads into the goroutine's stack, which can lie below.) */
static __always_inline __u32 follow_frame_pointers(__u64 fp, __u64 *stack, __u32 at)
{
	__u32 i;

	for (i = at; i < MWS_MAX_STACK_DEPTH; i++) {
		__u64 frame[2]; /* saved RBP, return address */

		if (fp == 0 || bpf_probe_read_user(frame, sizeof(frame), (void *)fp) != 0 || frame[1] == 0)
			break;
		stack[i] = frame[1];
		if (frame[0] <= fp)
			return i + 1;
		fp = frame[0];
	}
	return i;
}

/* The bytes of an event to send: its fields before stack[] (`fixed`) and
 * the stack_len frames it uses. A ring record costs more the bigger it is
 * (a goroutine's spawn record of 1,104 bytes cost ~200 ns more than one of
 * 216, make bench), and most stacks use a few of the 127 frames; userspace
 * reads as many frames as a record holds (src/collect/record_frames.h). */
static __always_inline __u64 mws_event_bytes(__u64 fixed, __u32 stack_len)
{
	return fixed + 8 * (__u64)(stack_len < MWS_MAX_STACK_DEPTH ? stack_len : MWS_MAX_STACK_DEPTH);
}

#endif /* MWSCOPE_FRAME_WALK_H */
