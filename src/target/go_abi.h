// The Go ABI table: byte offsets of the runtime struct fields that our BPF
// programs and our process_vm_readv code read, and the per-version facts
// about the runtime functions we probe, for Go 1.17 … 1.27 on amd64.
//
// Offsets come from the binary's DWARF when it has some (the compiler's own
// word), else from a table keyed by the Go version in .go.buildinfo, filled
// by hand from each version's src/runtime/runtime2.go (see go_abi.cpp, one
// commented row per version). A version the table does not know is an error
// that names the version: we never guess a layout. A version newer than the
// newest row takes the newest row (DWARF first), and says so in `source`:
// layouts rarely change between releases, and the toolchain matrix tests
// (tests/integration/test_go_matrix.cpp) show when a new row is due.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "target/elf_file.h"
#include "util/result.h"

namespace mws::target {

// The Go minor versions the table covers (1.<min> … 1.<max>).
inline constexpr int kGoAbiMinMinor = 17;
inline constexpr int kGoAbiMaxMinor = 27;

// Byte offsets inside Go runtime structs (amd64). -1 = this version has no such field.
struct GoRuntimeOffsets {
  // Only what something reads: the spawn probes (goid, startpc, gopc), the goroutine
  // reader (status, wait, and the saved context of a parked g), and the C side below.
  int64_t g_goid = -1, g_startpc = -1, g_gopc = -1, g_atomicstatus = -1, g_waitreason = -1,
          g_waitsince = -1, g_sched_sp = -1 /* g.sched.sp */, g_sched_bp = -1, g_sched_pc = -1;
  // The goroutine behind a thread running C code (--c-heap, --threads): the g in the
  // thread's TLS is g0 there; g0.m.curg is the goroutine, whose g.syscallsp/syscallpc
  // (non-zero from entersyscall to exitsyscall, as in every cgo call) say where it is.
  int64_t g_m = -1, m_curg = -1, g_syscallsp = -1, g_syscallpc = -1;
  // The spawn contexts (bpf/events.h) also need m.g0: is the current g the M's g0?
  int64_t m_g0 = -1;
  // g.parentGoid (go1.21+): the creator's goid, which newproc1 writes into a new g.
  int64_t g_parent_goid = -1;
  // runtime.allgs is a []*g; its address comes from .symtab when present.
  std::string source;  // "DWARF", "table go1.19", or "table go1.27 (newest row, for go1.28.1)"

  bool operator==(const GoRuntimeOffsets&) const = default;
};

// Upper bound of every struct offset taken from a binary's DWARF: the binary
// is the target's, so its DWARF is untrusted input. runtime.g is under 500
// bytes and runtime.m under 2 KiB in every version of the table; a larger
// offset is a lie, and readers size their buffers from these offsets.
inline constexpr int64_t kMaxGoStructOffset = 4096;
// Whether every offset is -1 (absent) or a field of 8 bytes or less fits
// inside the first kMaxGoStructOffset bytes of its struct; the error names
// the first one that does not.
Status check_go_offsets(const GoRuntimeOffsets& o);

// From the DWARF types runtime.g, runtime.gobuf (via g.sched) and runtime.m.
// Fails when the binary has no DWARF, or its DWARF has no runtime.g / g.goid,
// or gives an offset outside the bounds above.
Result<GoRuntimeOffsets> go_offsets_from_dwarf(const ElfFile& elf);
// From the hand-filled table; go_version as in .go.buildinfo ("go1.21.3").
// Fails, naming the version, when the table has no row for it.
Result<GoRuntimeOffsets> go_offsets_from_table(const std::string& go_version);
// DWARF first, else the table. The error (both failed) names the version.
Result<GoRuntimeOffsets> go_runtime_offsets(const ElfFile& elf, const std::string& go_version);

// Per-version facts about functions we probe (argument registers in ABIInternal order
// RAX RBX RCX RDI RSI R8 R9 R10 R11: the 0-based index of each argument).
struct GoFunctionFacts {
  // runtime.newproc1:
  //   1.17       newproc1(fn *funcval, argp unsafe.Pointer, narg int32, callergp *g, callerpc uintptr) *g
  //   1.18-1.22  newproc1(fn *funcval, callergp *g, callerpc uintptr) *g
  //   1.23+      newproc1(fn *funcval, callergp *g, callerpc uintptr, parked bool, waitreason waitReason) *g
  // The probes read the new g from newproc1's result (RAX), and plan_tasks
  // checks this before relying on it.
  bool newproc1_returns_g = true;
  // Where a new goroutine is seen for the price of an emulated trap: `go f()` runs
  // runtime.newproc, whose systemstack closure (newproc.func1 in every version) calls
  //   newg := newproc1(...); runqput(pp, newg, true)
  // runqput(pp *p, gp *g, next bool): at that CALL the new g is argument 1 (RBX).
  // A coroutine (iter.Pull, go1.22+) is made by runtime.newcoro, which returns a
  // *coro whose first word (coro.gp, a guintptr) is its g; newcoro is rare, its
  // RET is probed. (debugCallWrap and go1.27's synctest bubbles also call newproc1:
  // a debugger's injected calls and tests only, not seen.)
  std::string newproc_closure = "runtime.newproc.func1";
  int runqput_g_arg = 1;
  bool has_newcoro = false;
  int64_t coro_g_offset = 0;
  // runtime.mallocgc(size uintptr, typ *_type, needzero bool) unsafe.Pointer in every version;
  // the probes read size and type from these registers (plan_exact checks it).
  int mallocgc_size_arg = 0, mallocgc_type_arg = 1;
  // runtime.mProf_Malloc: 1.17-1.22 (p unsafe.Pointer, size uintptr); 1.23+ (mp *m, p, size).
  int mprof_malloc_ptr_arg = -1, mprof_malloc_size_arg = -1;
  // runtime.bucket {next, allnext *bucket; typ bucketType; hash, size, nstk uintptr}:
  // byte offset of size, the same in every version of the table.
  int64_t bucket_size_offset = 32;
  // runtime.mcache.tinyAllocs: tiny allocations (under 16 B, no pointers) this P
  // packed into a block already started, which the heap sampler never sees; flushed
  // into the runtime's total by (*mcache).refill of the tiny span class and by
  // (*mcache).releaseAll. mcache begins {nextSample, [memProfRate 1.24+,] scanAlloc,
  // tiny, tinyoffset, tinyAllocs}, one word each.
  int64_t mcache_tiny_allocs_offset = -1;
  // The memory profile (mprof.go), read from the target's memory at attach and at
  // the end: the list runtime.mbuckets links through bucket.allnext. A bucket is the
  // header above (nstk at 40, 48 bytes), nstk PCs in runtime.Callers' form (one per
  // source frame, inlined ones included), then memRecord {active, future[3]}, each a
  // memRecordCycle: {allocs, frees, alloc_bytes, free_bytes} up to go1.26, {allocs,
  // frees} from go1.27 (bytes are count x bucket.size in every version).
  // runtime.mProfCycle holds cycle<<1 | flushed from go1.19 (mProfCycleHolder).
  bool heap_profile_readable = false;  // go1.19+
  int64_t bucket_allnext_offset = 8, bucket_typ_offset = 16, bucket_nstk_offset = 40, bucket_header_size = 48;
  int64_t mem_record_cycle_words = 4;
  uint64_t max_profile_stack_depth = 32;  // maxStack 32 up to go1.22; maxProfStackDepth 1024 from go1.23
  // Goroutines can end through runtime.gdestroy without runtime.goexit1: a coroutine
  // (iter.Pull) exits via coroexit -> coroswitch_m -> gdestroy. runtime/coro.go and
  // gdestroy exist since Go 1.22 (iter.Pull behind GOEXPERIMENT=rangefunc there, on by
  // default from 1.23).
  bool has_gdestroy = false;
  std::string gdestroy_function;  // "runtime.gdestroy" when has_gdestroy, else ""
  // runtime.moduledata (symtab.go), where a stripped binary keeps the base of its
  // type names (`types`): pcHeader, six slices, findfunctab, minpc, maxpc, text
  // @176, ..., enoptrbss @248, [covctrs, ecovctrs from go1.20,] end, gcdata, gcbss,
  // types: @280 up to go1.19, @296 from go1.20 (GoPclntab::moduledata finds it).
  int64_t moduledata_types_offset = 296;
};
// Fails, naming the version, for a version outside the table.
Result<GoFunctionFacts> go_function_facts(const std::string& go_version);
// Byte offset of `member` in the DWARF struct type `type` ("runtime.mcache",
// "tinyAllocs"); fails without DWARF, without that member, or when the offset
// is `max_offset` - 8 or more (the DWARF is the target's: a word read at
// the offset must stay inside the struct a reader sizes for it).
Result<int64_t> go_member_offset_from_dwarf(const ElfFile& elf, std::string_view type, std::string_view member,
                                            int64_t max_offset = kMaxGoStructOffset);
// Whether the version is newer than the table's newest row (its facts are
// then the newest row's, unproven for it).
bool go_version_beyond_table(const std::string& go_version);

// How a runtime function named runtime.mallocgc* takes part in heap allocation.
//  - Entry: called from outside the allocator for one allocation, with mallocgc's
//    arguments (size RAX, type RBX): runtime.mallocgc itself, and the
//    size-specialised allocators that the compiler calls directly for small
//    new(T) under GOEXPERIMENT=sizespecializedmalloc (1.26 opt-in, 1.27 default):
//    mallocgcSmallScanNoHeaderSC<N>, mallocgcSmallNoScanSC<N>, and the tiny one
//    (mallocgcTinySize<N> in 1.26, mallocgcTinySC2 in 1.27). mallocgc also calls
//    them through its size tables: an allocation is counted once, at the
//    outermost allocator function on the stack.
//  - Internal: only ever called by an Entry (mallocgc's per-kind paths of 1.24+,
//    the slow paths of the specialised ones).
//  - Unknown: a runtime.mallocgc* function no Go release of the table has: a new
//    entry point may hide behind it, so exact mode refuses to count.
enum class AllocatorRole { kEntry, kInternal, kUnknown };
AllocatorRole allocator_role(std::string_view function);

// runtime2.go's goroutine statuses we act on (the same numbers in every version
// of the table; _Gleaked and _Gdeadextra exist from go1.26).
inline constexpr uint32_t kGoStatusRunning = 2;     // _Grunning: on a thread; g.sched is stale
inline constexpr uint32_t kGoStatusSyscall = 3;     // _Gsyscall: in a system call, on a thread
inline constexpr uint32_t kGoStatusWaiting = 4;     // _Gwaiting: g.waitreason says on what
inline constexpr uint32_t kGoStatusDead = 6;        // _Gdead: a free g, not a goroutine
inline constexpr uint32_t kGoStatusLeaked = 10;     // _Gleaked: waiting, and Go's leak detector found it unreachable
inline constexpr uint32_t kGoStatusDeadExtra = 11;  // _Gdeadextra: the idle g of a cgo extra M, not a goroutine
inline constexpr uint32_t kGoStatusScan = 0x1000;   // _Gscan bit, set while the GC scans the stack
// Whether a g with this status is a goroutine (not a free or extra-M g).
bool go_status_is_goroutine(uint32_t atomicstatus);
// Whether g.waitreason tells what it waits on (_Gwaiting, _Gleaked).
bool go_status_is_waiting(uint32_t atomicstatus);

// Goroutine status as Go's traceback prints it ("runnable", "waiting", ...); with the
// _Gscan bit (0x1000) set: "waiting (scan)". Unknown values: "unknown status N".
std::string go_status_name(uint32_t atomicstatus);
// The waitReason string as Go prints it ("chan receive", "select", "sleep", "IO wait",
// ...) from that version's waitReason enum (values shift between versions).
// "" for waitReasonZero, when out of range, or for a version outside the table.
std::string go_wait_reason_name(const std::string& go_version, uint8_t reason);

}  // namespace mws::target
