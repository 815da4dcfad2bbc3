#include "target/go_reachability.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "target/go_abi.h"
#include "target/go_functions.h"
#include "target/go_heap_layout.h"
#include "target/go_heap_locate.h"
#include "target/go_heap_marker.h"
#include "target/process.h"

namespace mws::target {

namespace {

// Bounds on what the target tells us (each value read from it is untrusted).
constexpr uint64_t kMaxArenaSlots = 1u << 18;    // arena indices looked up in the L2 array (16 TiB of mappings)
constexpr uint64_t kMaxGoroutines = 1u << 20;    // allgs entries (about 80 bytes of ours each)
constexpr uint64_t kMaxSudogsPerG = 1u << 16;    // a select has at most 65536 cases
constexpr uint64_t kMaxSudogsTotal = 1u << 20;
constexpr uint64_t kMaxStackBytes = 1ull << 30;  // Go's maxstacksize on 64-bit
constexpr size_t kMaxThreads = 1u << 16;         // runtime.allm entries (Go's default limit is 10000)
constexpr size_t kReadsPerBatch = 4096;

// What a goroutine's wait reason says it waits on.
// kChannels: g.waiting lists one sudog per channel (chan.go, select.go),
// linked by waitlink, each naming its channel in sudog.c. kSync (go1.26+):
// g.waiting is one sudog whose elem is the address of the sync object
// (sema.go); its waitlink links other goroutines waiting on that address, so
// it is not followed (Go's isMaybeRunnable reads gp.waiting.elem only).
enum class WaitKind : uint8_t { kOther, kChannels, kSync, kNothing };

uint64_t le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  std::memcpy(&v, p, static_cast<size_t>(bytes));
  return v;
}

// Reads `reads` in batches, charging the budget; false when the budget ran out.
bool read_all(const RemoteMemory& mem, std::vector<RemoteRead>& reads, ScanBudget& budget) {
  for (size_t i = 0; i < reads.size(); i += kReadsPerBatch) {
    const size_t n = std::min(kReadsPerBatch, reads.size() - i);
    uint64_t bytes = 0;
    for (size_t j = i; j < i + n; j++) bytes += reads[j].len;
    if (!budget.charge(bytes)) return false;
    mem.read_many({reads.data() + i, n});
  }
  return true;
}

// What stays the same between the two looks.
struct Context {
  const RemoteMemory* mem = nullptr;
  pid_t pid = 0;
  GoRuntimeOffsets off;
  GoHeapLayout layout;
  uint64_t mheap = 0, allgs = 0, allm = 0;  // runtime addresses (allgs, allm 0: unknown)
  std::array<WaitKind, 256> kinds{};
  std::array<bool, 256> select_no_cases{};
};

// One look's verdict on one input goroutine.
struct Seen {
  bool candidate = false, unreachable = false;
  uint64_t goid = 0;
  uint32_t status = 0;
  uint8_t reason = 0;
  std::vector<uint64_t> channels;  // sorted
  bool operator==(const Seen& o) const {
    return candidate == o.candidate && goid == o.goid && status == o.status && reason == o.reason &&
           channels == o.channels;
  }
};

struct LookResult {
  std::vector<Seen> seen;  // per input goroutine
  std::string failure;     // non-empty: nothing proven
  uint64_t candidates = 0;
};

// Builds the heap index from mheap_. Returns the mspan structs' ranges (never
// roots) and the L2 array's, or a failure.
std::string read_heap(const Context& cx, const std::vector<Mapping>& maps, ScanBudget& budget, HeapIndex& heap,
                      std::vector<AddressRange>& not_roots) {
  const GoHeapLayout& L = cx.layout;
  uint64_t l2 = 0;
  {
    RemoteRead r{cx.mheap + uint64_t(L.mheap_arenas), &l2, 8, false};
    std::vector<RemoteRead> v{r};
    if (!read_all(*cx.mem, v, budget)) return budget.reason();
    if (!v[0].ok || l2 == 0) return "cannot read mheap_.arenas";
  }
  not_roots.push_back({l2, l2 + kGoArenaL2Entries * 8});

  // The arena slots any mapping touches (arenas are mapped memory, possibly not
  // yet readable parts of it), looked up in the L2 array.
  std::vector<uint64_t> slots;
  for (const Mapping& m : maps) {
    if (m.end > (1ull << 47)) continue;  // not user space: no arena
    const uint64_t a = go_arena_index(m.start), b = go_arena_index(m.end - 1);
    if (b - a >= kMaxArenaSlots) return "a mapping spans too many heap arena slots";
    for (uint64_t i = a; i <= b; i++) slots.push_back(i);
    if (slots.size() > kMaxArenaSlots) return "too many heap arena slots to look up";
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  std::erase_if(slots, [](uint64_t s) { return s >= kGoArenaL2Entries; });
  if (slots.size() > kMaxArenaSlots) return "too many heap arena slots to look up";
  std::vector<uint64_t> arena_ptrs(slots.size(), 0);
  std::vector<RemoteRead> reads;
  for (size_t i = 0; i < slots.size(); i++) reads.push_back({l2 + slots[i] * 8, &arena_ptrs[i], 8, false});
  if (!read_all(*cx.mem, reads, budget)) return budget.reason();
  std::vector<uint64_t> arenas, arena_structs;
  for (size_t i = 0; i < slots.size(); i++) {
    if (!reads[i].ok) return "cannot read the heap arena index";
    if (arena_ptrs[i] == 0) continue;
    arenas.push_back(slots[i]);
    arena_structs.push_back(arena_ptrs[i]);
  }
  std::string why;
  if (!heap.init(arenas, &why)) return why;

  // heapArena.spans of each arena: which mspan owns each page (a span's
  // pages repeat it, so neighbours are deduplicated first).
  std::vector<uint64_t> spans;
  {
    std::vector<uint64_t> pages(kGoPagesPerArena);
    for (size_t i = 0; i < arena_structs.size(); i++) {
      std::vector<RemoteRead> one{{arena_structs[i] + uint64_t(L.heap_arena_spans), pages.data(), pages.size() * 8, false}};
      if (!read_all(*cx.mem, one, budget)) return budget.reason();
      if (!one[0].ok) return "cannot read heapArena.spans";
      for (size_t k = 0; k < pages.size(); k++)
        if (pages[k] && (k == 0 || pages[k] != pages[k - 1])) spans.push_back(pages[k]);
      if (spans.size() > 2 * kMaxHeapSpans) return "too many spans";
    }
  }
  std::sort(spans.begin(), spans.end());
  spans.erase(std::unique(spans.begin(), spans.end()), spans.end());
  if (spans.size() > kMaxHeapSpans) return "too many spans (over " + std::to_string(kMaxHeapSpans) + ")";

  // The mspans (up to limit) and the allocation bits of the in-use ones, a
  // batch at a time.
  const size_t span_bytes = static_cast<size_t>(L.span_limit + 8);
  struct Meta {
    uint64_t start, npages, elemsize, nelems, freeindex, alloc_bits;
    bool noscan;
  };
  std::vector<Meta> in_use;
  std::vector<uint8_t> buf;
  std::vector<std::vector<uint64_t>> bits;
  for (size_t i = 0; i < spans.size(); i += kReadsPerBatch) {
    const size_t n = std::min(kReadsPerBatch, spans.size() - i);
    buf.assign(n * span_bytes, 0);
    reads.clear();
    for (size_t j = 0; j < n; j++) reads.push_back({spans[i + j], buf.data() + j * span_bytes, span_bytes, false});
    if (!read_all(*cx.mem, reads, budget)) return budget.reason();
    in_use.clear();
    for (size_t j = 0; j < n; j++) {
      const uint64_t addr = spans[i + j];
      not_roots.push_back({addr, addr + span_bytes});
      if (!reads[j].ok) return "cannot read an mspan";
      const uint8_t* s = buf.data() + j * span_bytes;
      if (s[L.span_state] != kGoSpanInUse) continue;  // dead or manual (stacks, GC work): no objects
      Meta m;
      m.start = le(s + L.span_start_addr, 8);
      m.npages = le(s + L.span_npages, 8);
      m.elemsize = le(s + L.span_elemsize, 8);
      m.nelems = le(s + L.span_nelems, L.span_index_bytes);
      m.freeindex = le(s + L.span_freeindex, L.span_index_bytes);
      m.alloc_bits = le(s + L.span_alloc_bits, 8);
      m.noscan = s[L.span_spanclass] & 1;
      if (m.npages == 0 || m.npages > kMaxArenaRange * kGoPagesPerArena || m.elemsize == 0 || m.nelems == 0 ||
          m.nelems > m.npages * kGoPageSize / 8 || m.freeindex > m.nelems || m.alloc_bits == 0)
        return "an in-use span read torn (the heap changed while read)";
      in_use.push_back(m);
    }
    bits.assign(in_use.size(), {});
    reads.clear();
    for (size_t j = 0; j < in_use.size(); j++) {
      const Meta& m = in_use[j];
      bits[j].assign((m.nelems + 63) / 64, 0);
      reads.push_back({m.alloc_bits, bits[j].data(), static_cast<size_t>((m.nelems + 7) / 8), false});
    }
    if (!read_all(*cx.mem, reads, budget)) return budget.reason();
    for (size_t j = 0; j < in_use.size(); j++) {
      const Meta& m = in_use[j];
      if (!reads[j].ok) return "cannot read a span's allocBits";
      // Slots below freeindex are allocated whatever allocBits says (mbitmap.go, isFree).
      for (uint64_t k = 0; k < m.freeindex; k++) bits[j][k / 64] |= 1ull << (k % 64);
      HeapSpanInput in{m.start, m.npages, m.elemsize, m.nelems, m.noscan, std::move(bits[j])};
      if (!heap.add_span(std::move(in))) return "an in-use span does not fit the heap arenas (read torn?)";
    }
  }
  return "";
}

struct GState {
  uint64_t g_addr = 0, goid = 0, lo = 0, hi = 0, sp = 0, waiting = 0;
  uint32_t status = 0;
  uint8_t reason = 0;
  bool ok = false;
};

// Reads the heads of these g's.
std::string read_gs(const Context& cx, std::vector<GState>& gs, ScanBudget& budget) {
  const GoRuntimeOffsets& o = cx.off;
  int64_t head = 16;
  for (int64_t f : {o.g_goid, o.g_atomicstatus, o.g_waitreason, o.g_sched_sp, cx.layout.g_waiting})
    head = std::max(head, f + 8);
  const size_t hb = static_cast<size_t>(head);
  std::vector<uint8_t> buf;
  std::vector<RemoteRead> reads;
  for (size_t i = 0; i < gs.size(); i += kReadsPerBatch) {
    const size_t n = std::min(kReadsPerBatch, gs.size() - i);
    buf.assign(n * hb, 0);
    reads.clear();
    for (size_t j = 0; j < n; j++) reads.push_back({gs[i + j].g_addr, buf.data() + j * hb, hb, false});
    if (!read_all(*cx.mem, reads, budget)) return budget.reason();
    for (size_t j = 0; j < n; j++) {
      GState& g = gs[i + j];
      const uint8_t* p = buf.data() + j * hb;
      g.ok = reads[j].ok;
      g.lo = le(p, 8);
      g.hi = le(p + 8, 8);
      g.goid = le(p + o.g_goid, 8);
      g.status = static_cast<uint32_t>(le(p + o.g_atomicstatus, 4));
      g.reason = p[o.g_waitreason];
      g.sp = le(p + o.g_sched_sp, 8);
      g.waiting = le(p + cx.layout.g_waiting, 8);
    }
  }
  return "";
}

// The used part of a goroutine's stack, as a root.
AddressRange stack_root(const GState& g) {
  if (g.hi <= g.lo || g.hi - g.lo > kMaxStackBytes) return {};
  const uint32_t st = g.status & ~kGoStatusScan;
  // Parked (runnable, waiting, preempted): the saved sp bounds what is in use.
  // Running, in a syscall, or having its stack copied: all of it.
  const bool parked = st == 1 || st == kGoStatusWaiting || st == 9 || st == kGoStatusLeaked;
  if (parked && g.sp >= g.lo && g.sp < g.hi) return {g.sp & ~7ull, g.hi};
  return {g.lo, g.hi};
}

LookResult look(const Context& cx, const std::vector<BlockedGoroutine>& input, const std::vector<uint8_t>& eligible,
                ScanBudget& budget) {
  LookResult out;
  out.seen.resize(input.size());
  auto maps_read = read_mappings(cx.pid);
  if (!maps_read || maps_read->empty()) {
    out.failure = "cannot read the target's mappings";
    return out;
  }
  const std::vector<Mapping>& maps = *maps_read;
  HeapIndex heap;
  std::vector<AddressRange> not_roots;
  if (auto f = read_heap(cx, maps, budget, heap, not_roots); !f.empty()) {
    out.failure = f;
    return out;
  }

  // Every g: the input ones, and allgs as it is now (goroutines started since
  // the caller's snapshot are roots too).
  std::vector<GState> gs;
  std::unordered_map<uint64_t, size_t> input_of;  // g address -> input index
  for (size_t i = 0; i < input.size(); i++) {
    if (input[i].g_addr == 0 || input_of.count(input[i].g_addr)) continue;
    input_of[input[i].g_addr] = i;
    gs.push_back({input[i].g_addr});
  }
  if (cx.allgs) {
    uint64_t hdr[3] = {};
    std::vector<RemoteRead> r{{cx.allgs, hdr, sizeof(hdr), false}};
    if (!read_all(*cx.mem, r, budget)) {
      out.failure = budget.reason();
      return out;
    }
    if (!r[0].ok || hdr[1] > hdr[2] || hdr[1] > kMaxGoroutines) {
      out.failure = "cannot read runtime.allgs";
      return out;
    }
    std::vector<uint64_t> all(hdr[1]);
    r = {{hdr[0], all.data(), all.size() * 8, false}};
    if (!all.empty() && (!read_all(*cx.mem, r, budget) || !r[0].ok)) {
      out.failure = budget.exhausted() ? budget.reason() : "cannot read runtime.allgs";
      return out;
    }
    std::unordered_set<uint64_t> known;
    for (const GState& g : gs) known.insert(g.g_addr);
    for (uint64_t a : all)
      if (a && known.insert(a).second) gs.push_back({a});
  }
  if (auto f = read_gs(cx, gs, budget); !f.empty()) {
    out.failure = f;
    return out;
  }
  // A goroutine we cannot read could hold anything: nothing is proven.
  if (std::any_of(gs.begin(), gs.end(), [](const GState& g) { return !g.ok; })) {
    out.failure = "cannot read a goroutine";
    return out;
  }

  // Candidates, and their sudog chains (level by level, in batches).
  struct Cand {
    size_t g = 0;      // index in gs
    size_t input = 0;  // index in input
    uint64_t next = 0;
    size_t hops = 0;
    bool bad = false, sync = false;
    std::vector<uint64_t> sudogs, channels;
    std::unordered_set<uint64_t> seen;  // sudogs met: a loop is torn memory
  };
  std::vector<Cand> cands;
  for (size_t i = 0; i < gs.size(); i++) {
    const GState& g = gs[i];
    auto it = input_of.find(g.g_addr);
    if (!g.ok || it == input_of.end() || !eligible[it->second]) continue;
    const uint32_t st = g.status & ~kGoStatusScan;
    if (g.goid != input[it->second].goid || (st != kGoStatusWaiting && st != kGoStatusLeaked)) continue;
    const WaitKind k = cx.kinds[g.reason];
    if (k == WaitKind::kOther) continue;
    if (k != WaitKind::kNothing && g.waiting == 0) continue;  // doubt: not parked the way chan.go/sema.go park
    Cand c;
    c.g = i;
    c.input = it->second;
    c.next = k != WaitKind::kNothing ? g.waiting : 0;
    c.sync = k == WaitKind::kSync;
    cands.push_back(std::move(c));
  }
  {
    uint64_t total = 0;
    const size_t sb = static_cast<size_t>(
        std::max({cx.layout.sudog_waitlink, cx.layout.sudog_chan, cx.layout.sudog_sync_addr}) + 8);
    for (;;) {
      std::vector<size_t> active;
      for (size_t i = 0; i < cands.size(); i++)
        if (cands[i].next && !cands[i].bad) active.push_back(i);
      if (active.empty()) break;
      std::vector<uint8_t> buf(active.size() * sb);
      std::vector<RemoteRead> reads;
      for (size_t j = 0; j < active.size(); j++) reads.push_back({cands[active[j]].next, buf.data() + j * sb, sb, false});
      if (!read_all(*cx.mem, reads, budget)) {
        out.failure = budget.reason();
        return out;
      }
      for (size_t j = 0; j < active.size(); j++) {
        Cand& c = cands[active[j]];
        const uint8_t* p = buf.data() + j * sb;
        const uint64_t ch = le(p + (c.sync ? cx.layout.sudog_sync_addr : cx.layout.sudog_chan), 8);
        if (!reads[j].ok || ch == 0 || ++c.hops > kMaxSudogsPerG || ++total > kMaxSudogsTotal ||
            !c.seen.insert(c.next).second) {
          c.bad = true;  // torn, looping or absurd: not proven
          continue;
        }
        c.sudogs.push_back(c.next);
        c.channels.push_back(ch);
        c.next = c.sync ? 0 : le(p + cx.layout.sudog_waitlink, 8);
      }
    }
  }
  std::erase_if(cands, [](const Cand& c) { return c.bad; });
  out.candidates = cands.size();

  // Roots: writable memory outside the heap arenas, minus runtime metadata and
  // the candidates' own stacks; then the other goroutines' stacks.
  std::vector<AddressRange> mapped;
  for (const Mapping& m : maps) {
    if (!m.readable || !m.writable) continue;
    if (m.path == "[vvar]" || m.path == "[vvar_vclock]" || m.path == "[vsyscall]") continue;
    mapped.push_back({m.start, m.end});
  }
  for (auto [lo, hi] : heap.arena_ranges()) not_roots.push_back({lo, hi});
  std::vector<uint8_t> is_cand(gs.size(), 0);
  for (const Cand& c : cands) {
    is_cand[c.g] = 1;
    not_roots.push_back({gs[c.g].lo, gs[c.g].hi});
  }
  std::vector<AddressRange> roots = subtract_ranges(std::move(mapped), std::move(not_roots));
  for (size_t i = 0; i < gs.size(); i++) {
    const GState& g = gs[i];
    if (is_cand[i]) continue;
    const uint32_t st = g.status & ~kGoStatusScan;
    if (!go_status_is_goroutine(st)) continue;
    const AddressRange r = stack_root(g);
    if (r.hi > r.lo) roots.push_back(r);
  }

  // Every thread's g0 and gsignal: their stacks are heap memory (manual
  // spans) in a binary without cgo, which the mapping scan skipped; whole,
  // as their saved sp says nothing while the thread runs.
  if (cx.allm) {
    std::vector<GState> tgs;
    uint64_t m = 0;
    std::vector<RemoteRead> r{{cx.allm, &m, 8, false}};
    if (!read_all(*cx.mem, r, budget) || !r[0].ok) {
      out.failure = budget.exhausted() ? budget.reason() : "cannot read runtime.allm";
      return out;
    }
    std::unordered_set<uint64_t> seen_m;
    const size_t mb = static_cast<size_t>(std::max(cx.layout.m_alllink, cx.layout.m_gsignal) + 8);
    std::vector<uint8_t> mbuf(mb);
    while (m != 0) {
      if (!seen_m.insert(m).second || seen_m.size() > kMaxThreads) {
        out.failure = "runtime.allm loops or is too long";
        return out;
      }
      r = {{m, mbuf.data(), mb, false}};
      if (!read_all(*cx.mem, r, budget) || !r[0].ok) {
        out.failure = budget.exhausted() ? budget.reason() : "cannot read an m of runtime.allm";
        return out;
      }
      for (uint64_t g : {le(mbuf.data(), 8), le(mbuf.data() + cx.layout.m_gsignal, 8)})
        if (g) tgs.push_back({g});
      m = le(mbuf.data() + cx.layout.m_alllink, 8);
    }
    if (auto f = read_gs(cx, tgs, budget); !f.empty()) {
      out.failure = f;
      return out;
    }
    const auto arenas = heap.arena_ranges();
    for (const GState& g : tgs) {
      if (!g.ok || g.hi <= g.lo || g.hi - g.lo > kMaxStackBytes) continue;
      // Only Go-allocated stacks: an OS thread's stack is a mapping, scanned already.
      const bool in_heap = std::any_of(arenas.begin(), arenas.end(),
                                       [&](const auto& a) { return g.lo < a.second && g.hi > a.first; });
      if (in_heap) roots.push_back({g.lo, g.hi});
    }
  }

  HeapMarker marker(heap, *cx.mem, budget);
  std::vector<WaitCandidate> wc;
  for (const Cand& c : cands) {
    for (uint64_t s : c.sudogs) marker.set_opaque(s);
    WaitCandidate w;
    w.channels = c.channels;
    const AddressRange r = stack_root(gs[c.g]);
    w.stack_lo = r.lo;
    w.stack_hi = r.hi;
    wc.push_back(std::move(w));
  }
  auto verdict = solve_unreachable(marker, roots, wc);
  if (!verdict) {
    out.failure = marker.failure();
    return out;
  }
  // Stillness: a goroutine that is truly stuck, and what it waits on, do not
  // change. Goroutines handing a token back and forth on channels only they
  // hold are each parked most of the time, and reads that are not atomic
  // could catch all of them parked at once; the channels' own words (queues,
  // counts) and the goroutines' parking state would then change between
  // re-reads a few milliseconds apart.
  std::vector<size_t> found;
  for (size_t i = 0; i < cands.size(); i++)
    if ((*verdict)[i]) found.push_back(i);
  std::vector<uint8_t> still(cands.size(), 1);
  if (!found.empty()) {
    std::vector<RemoteRead> objs;
    std::vector<size_t> owner;  // per read: index into cands
    for (size_t i : found)
      for (uint64_t ch : cands[i].channels)
        if (auto o = heap.find(ch)) {
          objs.push_back({heap.object_base(*o), nullptr, static_cast<size_t>(std::min<uint64_t>(
                                                              heap.span_elemsize(o->span), 4096)), false});
          owner.push_back(i);
        }
    size_t total = 0;
    for (const RemoteRead& r : objs) total += r.len;
    std::vector<uint8_t> first(total), again(total);
    std::vector<GState> g_first, g_again;
    for (size_t i : found) g_first.push_back({gs[cands[i].g].g_addr});
    for (int round = 0; round < 3; round++) {
      if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::vector<uint8_t>& buf = round == 0 ? first : again;
      size_t off = 0;
      for (RemoteRead& r : objs) {
        r.out = buf.data() + off;
        off += r.len;
      }
      g_again.assign(g_first.size(), {});
      for (size_t k = 0; k < found.size(); k++) g_again[k].g_addr = g_first[k].g_addr;
      std::vector<GState>& gbuf = round == 0 ? g_first : g_again;
      if (!read_all(*cx.mem, objs, budget) || !read_gs(cx, gbuf, budget).empty()) {
        out.failure = budget.exhausted() ? budget.reason() : "cannot re-read the blocked goroutines";
        return out;
      }
      off = 0;
      for (size_t k = 0; k < objs.size(); k++) {
        if (!objs[k].ok || (round > 0 && std::memcmp(first.data() + off, again.data() + off, objs[k].len) != 0))
          still[owner[k]] = 0;
        off += objs[k].len;
      }
      for (size_t k = 0; k < found.size(); k++) {
        const GState &a = g_first[k], &b = gbuf[k], &orig = gs[cands[found[k]].g];
        if (!b.ok || b.goid != orig.goid || (b.status & ~kGoStatusScan) != (orig.status & ~kGoStatusScan) ||
            b.reason != orig.reason || b.waiting != orig.waiting || b.sp != orig.sp || (round > 0 && b.sp != a.sp))
          still[found[k]] = 0;
      }
    }
  }
  for (size_t i = 0; i < cands.size(); i++) {
    const GState& g = gs[cands[i].g];
    Seen& s = out.seen[cands[i].input];
    s.candidate = true;
    s.unreachable = (*verdict)[i] != 0 && still[i];
    s.goid = g.goid;
    s.status = g.status & ~kGoStatusScan;
    s.reason = g.reason;
    s.channels = cands[i].channels;
    std::sort(s.channels.begin(), s.channels.end());
  }
  return out;
}

}  // namespace

Result<ReachabilitySetup> prepare_reachability(const ElfFile& exe, const std::string& go_version) {
  ReachabilitySetup s;
  s.go_version = go_version;
  auto off = go_runtime_offsets(exe, go_version);
  if (!off) return off.error();
  s.offsets = *off;
  if (s.offsets.g_goid < 0 || s.offsets.g_atomicstatus < 0 || s.offsets.g_waitreason < 0 || s.offsets.g_sched_sp < 0)
    return Error{"the goroutine offsets of " + go_version + " are incomplete"};
  auto layout = go_heap_layout(exe, go_version);
  if (!layout) return layout.error();
  s.layout = *layout;
  GoFunctionIndex index(exe, go_version, exe.path());
  auto mheap = find_mheap(exe, index);
  if (!mheap) return Error{"runtime.mheap_ not found in " + exe.path()};
  s.mheap_vaddr = *mheap;
  if (auto allgs = find_allgs(exe, index)) s.allgs_vaddr = *allgs;
  if (s.layout.m_alllink >= 0 && s.layout.m_gsignal >= 0)
    if (auto allm = find_allm(exe, index)) s.allm_vaddr = *allm;
  return s;
}

Result<ReachabilityVerdicts> find_unreachable_waits(const RemoteMemory& mem, pid_t pid, const std::string& go_version,
                                                    const ElfFile& exe, uint64_t load_bias,
                                                    const std::vector<BlockedGoroutine>& all_goroutines,
                                                    const ReachabilityLimits& limits) {
  const auto start = std::chrono::steady_clock::now();
  auto setup = prepare_reachability(exe, go_version);
  if (!setup) return setup.error();
  // The setup's time counts against the limit too.
  ReachabilityLimits rest = limits;
  rest.max_seconds -= std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ReachabilityVerdicts v = find_unreachable_waits(mem, pid, *setup, load_bias, all_goroutines, rest);
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return v;
}

namespace {

// What a goroutine waiting for this reason waits on, as the scan sees it.
WaitKind wait_kind(const ReachabilitySetup& setup, uint8_t reason) {
  const std::string name = go_wait_reason_name(setup.go_version, reason);
  if (name == "chan receive" || name == "chan send" || name == "select") return WaitKind::kChannels;
  if (setup.layout.sudog_sync_addr >= 0 &&
      (name == "sync.Cond.Wait" || name == "sync.Mutex.Lock" || name == "sync.RWMutex.RLock" ||
       name == "sync.RWMutex.Lock" || name == "sync.WaitGroup.Wait"))
    return WaitKind::kSync;
  if (name == "select (no cases)" || name == "chan receive (nil chan)" || name == "chan send (nil chan)")
    return WaitKind::kNothing;
  return WaitKind::kOther;
}

}  // namespace

bool may_be_reachability_candidate(const ReachabilitySetup& setup, uint32_t status, uint8_t waitreason) {
  const uint32_t st = status & ~kGoStatusScan;
  return (st == kGoStatusWaiting || st == kGoStatusLeaked) && wait_kind(setup, waitreason) != WaitKind::kOther;
}

ReachabilityVerdicts find_unreachable_waits(const RemoteMemory& mem, pid_t pid, const ReachabilitySetup& setup,
                                            uint64_t load_bias, const std::vector<BlockedGoroutine>& all_goroutines,
                                            const ReachabilityLimits& limits) {
  ScanBudget budget(limits.max_seconds, limits.max_bytes, limits.stop);
  Context cx;
  cx.mem = &mem;
  cx.pid = pid;
  cx.off = setup.offsets;
  cx.layout = setup.layout;
  cx.mheap = setup.mheap_vaddr + load_bias;
  cx.allgs = setup.allgs_vaddr ? setup.allgs_vaddr + load_bias : 0;
  cx.allm = setup.allm_vaddr ? setup.allm_vaddr + load_bias : 0;
  for (int r = 1; r < 256; r++) {
    cx.kinds[r] = wait_kind(setup, static_cast<uint8_t>(r));
    cx.select_no_cases[r] = go_wait_reason_name(setup.go_version, static_cast<uint8_t>(r)) == "select (no cases)";
  }

  ReachabilityVerdicts v;
  v.unreachable.assign(all_goroutines.size(), 0);
  auto finish = [&](std::string why) {
    v.bytes_scanned = budget.bytes();
    v.seconds = budget.seconds();
    if (!why.empty()) {
      v.cut_short = true;
      v.cut_reason = std::move(why);
      std::fill(v.unreachable.begin(), v.unreachable.end(), 0);
    }
    return v;
  };

  std::vector<uint8_t> eligible(all_goroutines.size(), 1);
  LookResult first = look(cx, all_goroutines, eligible, budget);
  v.candidates = first.candidates;
  if (!first.failure.empty()) return finish("first look: " + first.failure);
  bool any = false;
  for (size_t i = 0; i < all_goroutines.size(); i++) {
    eligible[i] = first.seen[i].unreachable || (first.seen[i].candidate && first.seen[i].status == kGoStatusLeaked);
    any = any || eligible[i];
  }
  if (!any) return finish("");
  // The second, independent look: fresh mappings, spans, bits and goroutines,
  // a moment later. Candidates found reachable the first time are roots now.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  LookResult second = look(cx, all_goroutines, eligible, budget);
  if (!second.failure.empty()) return finish("second look: " + second.failure);
  // A goroutine Go's own detector marked _Gleaked (go1.26+: its precise mark
  // found no way to wake it) counts as unreachable when both looks still see
  // it so: our word-by-word scan can only find more references, e.g. stale
  // ones left in the GC's own off-heap queues by that very detection cycle.
  auto proven = [](const Seen& s) { return s.unreachable || s.status == kGoStatusLeaked; };
  // Like Go (mgc.go, findGoroutineLeaks), the main goroutine parked in
  // select{} is treated as blocked forever during the analysis (its stack is
  // no root) but never reported: servers end main that way on purpose.
  auto main_select = [&](const Seen& s) { return s.goid == 1 && cx.select_no_cases[s.reason]; };
  for (size_t i = 0; i < all_goroutines.size(); i++)
    v.unreachable[i] = first.seen[i].candidate && proven(first.seen[i]) && proven(second.seen[i]) &&
                       first.seen[i] == second.seen[i] && !main_select(first.seen[i]);
  return finish("");
}

}  // namespace mws::target
