// The "unreachable" evidence for a goroutine leak verdict: for goroutines
// blocked on channels ("chan receive", "chan send", "select", and the
// never-runnable "select (no cases)" and nil-channel waits) and, from Go 1.26,
// on sync.Mutex/RWMutex/WaitGroup/Cond (whose sema.go parks them with
// g.waiting naming the address), whether anything outside the blocked
// goroutines themselves still holds what they wait on.
// It mirrors Go's own leak detector (Go 1.26 GOEXPERIMENT=goroutineleakprofile,
// default in 1.27: mgc.go, findMaybeRunnableGoroutines / isMaybeRunnable), but
// from outside, while the target runs:
//
//  - Heap objects: mheap_.arenas -> heapArena.spans -> in-use mspans; a slot is
//    allocated iff i < freeindex or allocBits bit i (mbitmap.go, isFree). Free
//    slots (a dead closure that still holds a channel) never count.
//  - Roots: every readable, writable mapping that is not a heap arena (the
//    binary's data and bss, other modules, C memory, the runtime's off-heap
//    metadata, except the mspan structs whose startAddr/limit point at
//    objects), the stacks of every goroutine that is not a candidate
//    ([sched.sp, stack.hi) when parked, the whole stack when it runs), and
//    every thread's g0 and signal stacks (runtime.allm).
//  - Mark: word by word (conservative), through scan spans; noscan spans hold
//    no pointers. A candidate's own sudogs are never scanned (their c fields
//    name its channels: Go hides them the same way, setSyncObjectsUntraceable).
//  - Fixpoint: a candidate one of whose channels got marked (or is not a heap
//    object) may run again, and its stack becomes a root; repeat.
//  - Second look: the whole analysis runs twice on fresh reads; 1 only where
//    both found the goroutine unreachable, with the same goid, wait and channels.
//    A goroutine Go's own detector already marked _Gleaked (go1.26+) counts as
//    unreachable when both looks see it so (Go's mark is precise; ours,
//    word by word, may still see stale pointers in the GC's own buffers).
//
// Conservative throughout: any doubt (a torn read, an unreadable root, a
// layout we do not know, the budget) gives 0, never a false 1.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_heap_layout.h"
#include "target/remote_memory.h"
#include "util/result.h"

namespace mws::target {

struct BlockedGoroutine {
  uint64_t g_addr = 0, goid = 0, stack_lo = 0, stack_hi = 0;
  uint32_t status = 0;
  uint8_t waitreason = 0;
};

struct ReachabilityLimits {
  double max_seconds = 10;
  uint64_t max_bytes = 4ull << 30;
  const std::atomic<bool>* stop = nullptr;  // Ctrl-C, SIGTERM: cut short at the next batch
};

struct ReachabilityVerdicts {
  std::vector<uint8_t> unreachable;  // per input goroutine, 1 = proven unreachable (held on a second look)
  bool cut_short = false;
  std::string cut_reason;  // budget hit: the rest stay 0 ("suspect" to the caller)
  uint64_t bytes_scanned = 0;
  double seconds = 0;
  uint64_t candidates = 0;
};

// What the analysis needs from the binary, found once per binary (DWARF
// parsing and the function index take most of a second on a 10 MB binary).
struct ReachabilitySetup {
  std::string go_version;
  GoRuntimeOffsets offsets;
  GoHeapLayout layout;
  uint64_t mheap_vaddr = 0;  // link address of runtime.mheap_
  uint64_t allgs_vaddr = 0;  // link address of runtime.allgs (0: unknown; then only the given goroutines count)
  uint64_t allm_vaddr = 0;   // link address of runtime.allm (0: unknown; then the threads' g0 and signal
                             // stacks are roots only where they are OS thread stacks, as with cgo)
};
Result<ReachabilitySetup> prepare_reachability(const ElfFile& exe, const std::string& go_version);

// Whether a goroutine waiting this way can be a candidate of the scan (on
// a channel, a select, or with the layout's sync waits, a lock): what a
// caller compares to tell that the same waits are still there.
bool may_be_reachability_candidate(const ReachabilitySetup& setup, uint32_t status, uint8_t waitreason);

// `all_goroutines`: every live goroutine (read_live_goroutines); `load_bias`:
// runtime address minus link address of `exe`. Fails (an error, not a cut)
// only when the binary cannot be analysed at all (unknown layout, no mheap_).
Result<ReachabilityVerdicts> find_unreachable_waits(const RemoteMemory& mem, pid_t pid, const std::string& go_version,
                                                    const ElfFile& exe, uint64_t load_bias,
                                                    const std::vector<BlockedGoroutine>& all_goroutines,
                                                    const ReachabilityLimits& limits);
// The same with the setup done beforehand (the limits then bound the analysis only).
ReachabilityVerdicts find_unreachable_waits(const RemoteMemory& mem, pid_t pid, const ReachabilitySetup& setup,
                                            uint64_t load_bias, const std::vector<BlockedGoroutine>& all_goroutines,
                                            const ReachabilityLimits& limits);

}  // namespace mws::target
