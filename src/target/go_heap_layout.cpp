// The heap layout table (see go_heap_layout.h).
//
// Each row was read from that version's runtime sources: src/runtime/mheap.go
// (type mheap: arenas; type heapArena: spans; type mspan) and runtime2.go
// (type g: waiting; type sudog) of Debian's golang-1.19-src (go1.19.8) and
// golang-1.21-src … golang-1.27-src (the toolchains scripts/fetch-go-toolchains.sh
// unpacks), laid out with the amd64 rules of go_abi.cpp, and each was checked
// against the DWARF of a program built by that same toolchain (byte offsets of
// runtime.mheap.arenas, runtime.heapArena.spans, runtime.mspan.*, runtime.g.waiting,
// runtime.sudog.{waitlink,c}) and runtime2.go's m (gsignal: after g0 and
// morebuf, a gobuf of 56 bytes up to 1.24 and 48 from 1.25: 80 / 72; alllink:
// 336 in 1.19 and 1.21, 328 in 1.22-1.24, 344 in 1.25, 352 in 1.26-1.27, as m
// gained and lost fields). Go 1.20 has no row: no go1.20 runtime source or
// toolchain was at hand to take it from (a go1.20 binary with DWARF works).
#include "target/go_heap_layout.h"

#include <array>

#include "target/go_abi.h"
#include "target/gopclntab.h"  // parse_go_version

namespace mws::target {

namespace {

struct HeapRow {
  int minor;
  int64_t arenas, spans;
  int64_t start_addr, npages, freeindex, nelems, alloc_bits, spanclass, state, elemsize, limit;
  int index_bytes;
  int64_t g_waiting, waitlink, chan;
  int64_t sync_addr;  // sudog.elem.vu for the sync waits of go1.26+, else -1
  int64_t m_gsignal, m_alllink;
};

constexpr std::array<HeapRow, 8> kHeapRows = {{
    // go1.19: mheap.arenas 65936 (after the 68 padded mcentrals of central and the
    // allspans/sweep fields); heapArena {bitmap [2 MiB]uint8, spans [8192]*mspan, ...};
    // mspan {next, prev, list, startAddr 24, npages 32, manualFreeList, freeindex uintptr 48,
    // nelems uintptr 56, allocCache, allocBits 72, gcmarkBits, sweepgen, divMul, allocCount 96,
    // spanclass 98, state 99, needzero, elemsize 104, limit 112}; g.waiting 328;
    // sudog {g, next, prev, elem, acquiretime, releasetime, ticket, isSelect, success,
    // parent 56, waitlink 64, waittail 72, c *hchan 80}.
    {19, 65936, 2097152, 24, 32, 48, 56, 72, 98, 99, 104, 112, 8, 328, 64, 80, -1, 80, 336},
    // go1.21: heapArena {bitmap [131072]uintptr, noMorePtrs [1024]uint8, spans 1064960};
    // mspan gained freeIndexForScan after nelems and allocCount moved to 104 (spanclass
    // 106, state 107, elemsize 112, limit 120); mheap.arenas 65944; g.waiting 312
    // (parentGoid added, trace fields moved). sudog as go1.19.
    {21, 65944, 1064960, 24, 32, 48, 56, 72, 106, 107, 112, 120, 8, 312, 64, 80, -1, 80, 336},
    // go1.22: heap bitmaps moved out of heapArena (spans first, at 0); mspan freeindex
    // and nelems became uint16 (48, 50), allocBits 64, spanclass 98, state 99, elemsize
    // 104, limit 112; mheap.arenas 66008; g.waiting 312.
    {22, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 312, 64, 80, -1, 80, 328},
    // go1.23: g gained syscallbp (g.waiting 320); heap structs as go1.22.
    {23, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 320, 64, 80, -1, 80, 328},
    // go1.24: as go1.23.
    {24, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 320, 64, 80, -1, 80, 328},
    // go1.25: gobuf.ret removed, g.waiting back to 312; heap structs as go1.22.
    {25, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 312, 64, 80, -1, 72, 344},
    // go1.26: g.waiting 320; sudog.elem and sudog.c became maybeTraceablePtr/Chan
    // {vp unsafe.Pointer; vu uintptr} (16 bytes): elem 24, parent 64, waitlink 72, c 88,
    // so the channel's address (c.vu) is at 96; sema.go's semaRoot.queue and
    // notifyListWait now set g.waiting, with the address in elem.vu (32).
    {26, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 320, 72, 96, 32, 72, 352},
    // go1.27: as go1.26 (runtime2.go and mheap.go of go1.27.4).
    {27, 66008, 0, 24, 32, 48, 50, 64, 98, 99, 104, 112, 2, 320, 72, 96, 32, 72, 352},
}};

GoHeapLayout from_row(const HeapRow& r) {
  GoHeapLayout l;
  l.mheap_arenas = r.arenas;
  l.heap_arena_spans = r.spans;
  l.span_start_addr = r.start_addr;
  l.span_npages = r.npages;
  l.span_freeindex = r.freeindex;
  l.span_nelems = r.nelems;
  l.span_alloc_bits = r.alloc_bits;
  l.span_spanclass = r.spanclass;
  l.span_state = r.state;
  l.span_elemsize = r.elemsize;
  l.span_limit = r.limit;
  l.span_index_bytes = r.index_bytes;
  l.g_waiting = r.g_waiting;
  l.sudog_waitlink = r.waitlink;
  l.sudog_chan = r.chan;
  l.sudog_sync_addr = r.sync_addr;
  l.m_gsignal = r.m_gsignal;
  l.m_alllink = r.m_alllink;
  l.source = "table go1." + std::to_string(r.minor);
  return l;
}

}  // namespace

Result<GoHeapLayout> go_heap_layout_from_table(const std::string& go_version) {
  auto v = parse_go_version(go_version);
  if (v && v->first == 1) {
    const int newest = kHeapRows.back().minor;
    const int minor = v->second > newest ? newest : v->second;
    for (const HeapRow& r : kHeapRows) {
      if (r.minor != minor) continue;
      GoHeapLayout l = from_row(r);
      if (v->second > newest) l.source += " (newest row, for " + go_version + ")";
      return l;
    }
  }
  return Error{"no Go heap layout table row for Go version \"" + go_version +
               "\": mwscope knows go1.19 and go1.21 to go1.27 (a binary with DWARF works)"};
}

namespace {
constexpr int64_t kMaxMheapOffset = 1 << 20;      // mheap.arenas: tens of KiB in, in every version of the table
constexpr int64_t kMaxHeapArenaOffset = 4 << 20;  // heapArena.spans: 2 MiB in up to go1.21
}  // namespace

Result<GoHeapLayout> go_heap_layout_from_dwarf(const ElfFile& elf) {
  GoHeapLayout l;
  struct Want {
    const char* type;
    const char* member;
    int64_t* out;
  };
  const Want wants[] = {
      {"runtime.mheap", "arenas", &l.mheap_arenas},       {"runtime.heapArena", "spans", &l.heap_arena_spans},
      {"runtime.mspan", "startAddr", &l.span_start_addr}, {"runtime.mspan", "npages", &l.span_npages},
      {"runtime.mspan", "freeindex", &l.span_freeindex},  {"runtime.mspan", "nelems", &l.span_nelems},
      {"runtime.mspan", "allocBits", &l.span_alloc_bits}, {"runtime.mspan", "spanclass", &l.span_spanclass},
      {"runtime.mspan", "state", &l.span_state},          {"runtime.mspan", "elemsize", &l.span_elemsize},
      {"runtime.mspan", "limit", &l.span_limit},          {"runtime.g", "waiting", &l.g_waiting},
      {"runtime.sudog", "waitlink", &l.sudog_waitlink},   {"runtime.sudog", "c", &l.sudog_chan},
      {"runtime.m", "gsignal", &l.m_gsignal},             {"runtime.m", "alllink", &l.m_alllink},
  };
  for (const Want& w : wants) {
    // runtime.mheap holds its central lists before `arenas`, and a go1.19
    // heapArena its 2 MiB bitmap before `spans`: far past any other
    // struct's bound. Both are read at that offset, never into a buffer
    // sized by it.
    const std::string_view type(w.type);
    const int64_t max_offset = type == "runtime.mheap"       ? kMaxMheapOffset
                               : type == "runtime.heapArena" ? kMaxHeapArenaOffset
                                                             : kMaxGoStructOffset;
    auto off = go_member_offset_from_dwarf(elf, w.type, w.member, max_offset);
    if (!off) return off.error();
    *w.out = *off;
  }
  // uintptr freeindex is followed by a uintptr nelems (8 bytes on), uint16 by a uint16 (2 on).
  const int64_t gap = l.span_nelems - l.span_freeindex;
  if (gap != 8 && gap != 2) return Error{"the DWARF of " + elf.path() + " has an mspan.freeindex of unknown width"};
  l.span_index_bytes = static_cast<int>(gap);
  // go1.26+: sudog.c is a maybeTraceableChan whose vu word holds the address,
  // and sudog.elem a maybeTraceablePtr holding the address a sync wait parks
  // on (sema.go sets g.waiting for those only since the same release).
  if (auto vu = go_member_offset_from_dwarf(elf, "runtime.maybeTraceablePtr", "vu")) {
    l.sudog_chan += *vu;
    if (auto elem = go_member_offset_from_dwarf(elf, "runtime.sudog", "elem")) l.sudog_sync_addr = *elem + *vu;
  }
  l.source = "DWARF";
  return l;
}

Result<GoHeapLayout> go_heap_layout(const ElfFile& elf, const std::string& go_version) {
  if (auto d = go_heap_layout_from_dwarf(elf)) return d;
  return go_heap_layout_from_table(go_version);
}

}  // namespace mws::target
