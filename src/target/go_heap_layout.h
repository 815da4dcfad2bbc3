// Where the Go heap keeps its objects, and how a goroutine says what it is
// blocked on: the per-version struct offsets that the reachability check
// (target/go_reachability.h) reads, amd64 only, Go 1.19 … 1.27.
//
// DWARF first (the compiler's own word); else a table with one row per Go
// version, taken from that version's runtime sources (mheap.go: mheap,
// heapArena, mspan; runtime2.go: g, sudog) and checked against the DWARF of a
// binary built by that toolchain (see go_heap_layout.cpp). A version without a
// row is an error naming it: a layout is never guessed. A version newer than
// the newest row takes the newest row and says so in `source`.
#pragma once

#include <cstdint>
#include <string>

#include "target/elf_file.h"
#include "util/result.h"

namespace mws::target {

struct GoHeapLayout {
  // mheap_.arenas: [1 << arenaL1Bits]*[1 << arenaL2Bits]*heapArena; on linux/amd64
  // arenaL1Bits = 0, so the first word is the one L2 array (4M pointers).
  int64_t mheap_arenas = -1;
  // heapArena.spans: [pagesPerArena]*mspan, one per 8 KiB page of the 64 MiB arena.
  int64_t heap_arena_spans = -1;
  // mspan: first object, its page count, the allocation state of its slots.
  int64_t span_start_addr = -1, span_npages = -1, span_freeindex = -1, span_nelems = -1, span_alloc_bits = -1,
          span_spanclass = -1, span_state = -1, span_elemsize = -1;
  int span_index_bytes = 8;  // freeindex and nelems: uintptr up to go1.21, uint16 from go1.22
  // mspan.limit (the end of the span's objects). [mspan, mspan + limit + 8) is runtime
  // metadata whose startAddr and limit point at objects: it is never a root. (What lies
  // after limit stays a root: a smaller exclusion only makes more things reachable.)
  int64_t span_limit = -1;
  // g.waiting: the sudogs a goroutine blocked in a channel operation (or select)
  // parks with, linked by sudog.waitlink; sudog.c names each one's channel.
  int64_t g_waiting = -1;
  int64_t sudog_waitlink = -1;
  // Where the channel's address is: sudog.c (a *hchan) up to go1.25; from go1.26
  // sudog.c is a maybeTraceableChan {vp unsafe.Pointer; vu uintptr} whose vu is
  // the source of truth (vp is nil while Go's own leak detector hides it).
  int64_t sudog_chan = -1;
  // From go1.26, sema.go parks a goroutine blocked in sync.Mutex/RWMutex.Lock,
  // WaitGroup.Wait (semaRoot.queue) and Cond.Wait (notifyListWait) with
  // g.waiting = its sudog and sudog.elem = the address waited on (a
  // maybeTraceablePtr: the address is elem.vu). Before go1.26 g.waiting stays
  // nil there (-1: not readable).
  int64_t sudog_sync_addr = -1;
  // The threads' own goroutines, whose stacks Go allocates from the heap in a
  // binary without cgo (runtime.allm links every m through m.alllink; m.g0 is
  // the first word of m in every version): roots, like other goroutines' stacks.
  int64_t m_gsignal = -1, m_alllink = -1;
  std::string source;  // "DWARF", "table go1.19", "table go1.27 (newest row, for go1.28.1)"
};

// Go's heap geometry on linux/amd64 (malloc.go, every version of the table).
inline constexpr uint64_t kGoPageSize = 8192;                   // _PageSize
inline constexpr uint64_t kGoHeapArenaBytes = 64ull << 20;      // heapArenaBytes
inline constexpr uint64_t kGoPagesPerArena = kGoHeapArenaBytes / kGoPageSize;
inline constexpr uint64_t kGoArenaBaseOffset = 0xffff800000000000ull;  // arenaBaseOffset
inline constexpr uint64_t kGoArenaL2Entries = 1ull << 22;       // 1 << arenaL2Bits (48 - 26 bits)
inline constexpr uint8_t kGoSpanInUse = 1;                      // mSpanInUse (mSpanDead 0, mSpanManual 2)

// The arena index of an address (arenaIndex in mheap.go): (p - arenaBaseOffset) / heapArenaBytes.
inline uint64_t go_arena_index(uint64_t addr) { return (addr - kGoArenaBaseOffset) / kGoHeapArenaBytes; }
inline uint64_t go_arena_base(uint64_t index) { return index * kGoHeapArenaBytes + kGoArenaBaseOffset; }

Result<GoHeapLayout> go_heap_layout_from_dwarf(const ElfFile& elf);
Result<GoHeapLayout> go_heap_layout_from_table(const std::string& go_version);
// DWARF first, else the table; the error (both failed) names the version.
Result<GoHeapLayout> go_heap_layout(const ElfFile& elf, const std::string& go_version);

}  // namespace mws::target
