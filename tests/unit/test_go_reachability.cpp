// The pure parts of the "unreachable" evidence: the heap index and the mark
// with Go's leak-detector fixpoint (target/go_heap_marker.h) on synthetic
// object graphs and hostile inputs, and the heap layout table
// (target/go_heap_layout.h) and mheap_ finder against the fixtures' DWARF
// and .symtab, for every toolchain the build has.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>

#include "fixture_builds.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "target/go_heap_layout.h"
#include "target/go_heap_locate.h"
#include "target/go_heap_marker.h"

using namespace mws::target;

namespace {

// Memory as a few regions of bytes; anything else is unreadable. Read
// through a RemoteMemory, as the target is.
class FakeRegions : public MemorySource {
 public:
  std::map<uint64_t, std::vector<uint8_t>> regions;
  bool read(uint64_t addr, void* out, size_t len) const override {
    auto it = regions.upper_bound(addr);
    if (it == regions.begin()) return false;
    --it;
    if (addr < it->first || addr + len > it->first + it->second.size()) return false;
    std::memcpy(out, it->second.data() + (addr - it->first), len);
    return true;
  }
};

class FakeMemory : public RemoteMemory {
 public:
  FakeMemory() : FakeMemory(std::make_shared<FakeRegions>()) {}
  std::map<uint64_t, std::vector<uint8_t>>& regions;
  void put(uint64_t addr, uint64_t value) {
    for (auto& [base, bytes] : regions)
      if (addr >= base && addr + 8 <= base + bytes.size()) {
        std::memcpy(bytes.data() + (addr - base), &value, 8);
        return;
      }
    FAIL("no region for the write");
  }

 private:
  explicit FakeMemory(std::shared_ptr<FakeRegions> f) : RemoteMemory(f), regions(f->regions) {}
};

constexpr uint64_t kHeap = 0xc000000000ull;  // Go's first arena on linux/amd64
constexpr uint64_t kData = 0x500000ull;      // a "binary's data" root
constexpr uint64_t kStackA = 0xc100000000ull, kStackB = 0xc100001000ull, kStackC = 0xc100002000ull;

HeapSpanInput span(uint64_t start, uint64_t elemsize, uint64_t nelems, std::initializer_list<uint64_t> allocated,
                   uint64_t npages = 1) {
  HeapSpanInput s{start, npages, elemsize, nelems, false, std::vector<uint64_t>((nelems + 63) / 64, 0)};
  for (uint64_t i : allocated) s.alloc[i / 64] |= 1ull << (i % 64);
  return s;
}

uint64_t obj(uint64_t i) { return kHeap + i * 64; }

struct World {
  FakeMemory mem;
  HeapIndex heap;
  World() {
    std::string why;
    REQUIRE(heap.init({go_arena_index(kHeap)}, &why));
    // One page of 64-byte objects: slots 0..19 allocated, 20..127 free.
    std::initializer_list<uint64_t> alloc = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    REQUIRE(heap.add_span(span(kHeap, 64, 128, alloc)));
    mem.regions[kHeap] = std::vector<uint8_t>(8192, 0);
    mem.regions[kData] = std::vector<uint8_t>(4096, 0);
    for (uint64_t s : {kStackA, kStackB, kStackC}) mem.regions[s] = std::vector<uint8_t>(4096, 0);
  }
};

std::vector<uint8_t> solve(World& w, const std::vector<AddressRange>& roots, const std::vector<WaitCandidate>& cands,
                           std::initializer_list<uint64_t> opaque = {}) {
  ScanBudget budget(10, 1ull << 30);
  HeapMarker m(w.heap, w.mem, budget);
  for (uint64_t o : opaque) m.set_opaque(o);
  auto v = solve_unreachable(m, roots, cands);
  REQUIRE(v);
  return *v;
}

}  // namespace

TEST_CASE("reachability: a channel only a free slot holds is unreachable, one a live object holds is not",
          "[reachability]") {
  World w;
  // chan1 = slot 1, referenced only by slot 20 (free: a dead closure).
  w.mem.put(obj(20), obj(1));
  // chan2 = slot 2, held by slot 3 (a struct), held by the data root.
  w.mem.put(obj(3) + 8, obj(2));
  w.mem.put(kData + 16, obj(3) + 24);  // an interior pointer marks the whole object
  const std::vector<AddressRange> roots = {{kData, kData + 4096}};
  auto v = solve(w, roots, {{{obj(1)}, kStackA, kStackA + 4096}, {{obj(2)}, kStackB, kStackB + 4096}});
  CHECK(v == std::vector<uint8_t>{1, 0});
}

TEST_CASE("reachability: goroutines holding each other's channel on their stacks are unreachable together",
          "[reachability]") {
  World w;
  // Group: A and B wait on chan4 (slot 4), which only their stacks hold.
  w.mem.put(kStackA + 8, obj(4));
  w.mem.put(kStackB + 8, obj(4));
  auto v = solve(w, {{kData, kData + 4096}},
                 {{{obj(4)}, kStackA, kStackA + 4096}, {{obj(4)}, kStackB, kStackB + 4096}});
  CHECK(v == std::vector<uint8_t>{1, 1});
}

TEST_CASE("reachability: the fixpoint makes a goroutine runnable once a runnable one's stack reaches its channel",
          "[reachability]") {
  World w;
  // C waits on chan5 (reachable from data). Its stack holds chan6, on which A waits;
  // A's stack holds chan7, on which B waits. All three may run.
  w.mem.put(kData, obj(5));
  w.mem.put(kStackC + 16, obj(6));
  w.mem.put(kStackA + 16, obj(7));
  auto v = solve(w, {{kData, kData + 4096}},
                 {{{obj(7)}, kStackB, kStackB + 4096}, {{obj(6)}, kStackA, kStackA + 4096},
                  {{obj(5)}, kStackC, kStackC + 4096}});
  CHECK(v == std::vector<uint8_t>{0, 0, 0});
}

TEST_CASE("reachability: a select is runnable when any of its channels is marked", "[reachability]") {
  World w;
  w.mem.put(kData, obj(9));
  auto v = solve(w, {{kData, kData + 4096}}, {{{obj(8), obj(9)}, kStackA, kStackA + 4096}});
  CHECK(v == std::vector<uint8_t>{0});
}

TEST_CASE("reachability: waits on nothing never run, and a channel outside the heap counts as reachable",
          "[reachability]") {
  World w;
  auto v = solve(w, {}, {{{}, kStackA, kStackA + 4096}, {{kData + 64}, kStackB, kStackB + 4096},
                         {{obj(30)} /* a free slot */, kStackC, kStackC + 4096}});
  CHECK(v == std::vector<uint8_t>{1, 0, 0});
}

TEST_CASE("reachability: a blocked goroutine's own sudog does not keep its channel", "[reachability]") {
  World w;
  // g (slot 10, reachable from data like allgs) -> sudog (slot 11) -> chan (slot 12).
  w.mem.put(kData + 8, obj(10));
  w.mem.put(obj(10) + 40, obj(11));
  w.mem.put(obj(11) + 56, obj(12));
  const std::vector<WaitCandidate> c = {{{obj(12)}, kStackA, kStackA + 4096}};
  CHECK(solve(w, {{kData, kData + 4096}}, c, {obj(11)}) == std::vector<uint8_t>{1});
  World w2;
  w2.mem.put(kData + 8, obj(10));
  w2.mem.put(obj(10) + 40, obj(11));
  w2.mem.put(obj(11) + 56, obj(12));
  CHECK(solve(w2, {{kData, kData + 4096}}, c) == std::vector<uint8_t>{0});
}

TEST_CASE("reachability: noscan objects are marked but their words are not followed", "[reachability]") {
  FakeMemory mem;
  HeapIndex heap;
  REQUIRE(heap.init({go_arena_index(kHeap)}, nullptr));
  HeapSpanInput scan = span(kHeap, 64, 128, {0, 1});
  HeapSpanInput noscan = span(kHeap + 8192, 64, 128, {0});
  noscan.noscan = true;
  REQUIRE(heap.add_span(scan));
  REQUIRE(heap.add_span(noscan));
  mem.regions[kHeap] = std::vector<uint8_t>(16384, 0);
  mem.regions[kData] = std::vector<uint8_t>(64, 0);
  mem.put(kData, kHeap + 8192);      // data -> noscan object
  mem.put(kHeap + 8192, kHeap + 64);  // noscan object "holds" slot 1: not a pointer to Go
  ScanBudget budget(10, 1 << 20);
  HeapMarker m(heap, mem, budget);
  auto v = solve_unreachable(m, {{kData, kData + 64}}, {{{kHeap + 64}, 0, 0}});
  REQUIRE(v);
  CHECK(m.is_marked(kHeap + 8192));
  CHECK((*v)[0] == 1);
}

TEST_CASE("reachability: cycles end, and objects marked from their own span are scanned too", "[reachability]") {
  World w;
  // A ring through slots 0..19 (all in one span, read whole), entered from
  // data; the channel is slot 19 at the far end.
  for (uint64_t i = 0; i < 19; i++) w.mem.put(obj(i), obj(i + 1));
  w.mem.put(obj(19) + 8, obj(0));
  w.mem.put(kData, obj(0));
  CHECK(solve(w, {{kData, kData + 4096}}, {{{obj(19)}, kStackA, kStackA + 4096}}) == std::vector<uint8_t>{0});
}

TEST_CASE("reachability: one-object spans, large objects and sparse marks are all scanned", "[reachability]") {
  FakeMemory mem;
  HeapIndex heap;
  REQUIRE(heap.init({go_arena_index(kHeap)}, nullptr));
  const uint64_t small = kHeap, page_obj = kHeap + 8192, large = kHeap + 16384;
  const uint64_t large_pages = 200, large_size = large_pages * 8192;  // 1.6 MB: read piece by piece
  const uint64_t sparse = large + large_size;                          // 8 pages of 16-byte slots
  REQUIRE(heap.add_span(span(small, 64, 128, {0, 1, 2})));
  REQUIRE(heap.add_span(span(page_obj, 8192, 1, {0})));
  REQUIRE(heap.add_span(span(large, large_size, 1, {0}, large_pages)));
  HeapSpanInput sp = span(sparse, 16, 8 * 8192 / 16, {}, 8);
  for (auto& wd : sp.alloc) wd = ~0ull;
  REQUIRE(heap.add_span(sp));
  mem.regions[kHeap] = std::vector<uint8_t>(16384 + large_size + 8 * 8192, 0);
  mem.regions[kData] = std::vector<uint8_t>(64, 0);
  // data -> page_obj -> (at its end) large -> (at its end) one slot of the
  // sparse span -> small slot 2 (the channel).
  mem.put(kData, page_obj);
  mem.put(page_obj + 8184, large + 100);
  mem.put(large + large_size - 8, sparse + 16 * 3000);
  mem.put(sparse + 16 * 3000 + 8, small + 2 * 64);
  ScanBudget budget(10, 1ull << 30);
  HeapMarker m(heap, mem, budget);
  auto v = solve_unreachable(m, {{kData, kData + 64}}, {{{small + 2 * 64}, 0, 0}, {{small + 64}, 0, 0}});
  REQUIRE(v);
  CHECK(*v == std::vector<uint8_t>{0, 1});
  CHECK(m.is_marked(large + large_size - 1));
  CHECK_FALSE(m.is_marked(sparse + 16 * 2999));
  // The sparse span was read object by object, not whole.
  CHECK(budget.bytes() < 64 + 8192 + large_size + 8 * 8192);
}

TEST_CASE("reachability: an unreadable root or a spent budget proves nothing", "[reachability]") {
  World w;
  {
    ScanBudget budget(10, 1 << 20);
    HeapMarker m(w.heap, w.mem, budget);
    // A root half outside the fake memory: nothing proven.
    CHECK_FALSE(solve_unreachable(m, {{kData + 2048, kData + 8192}}, {{{obj(1)}, kStackA, kStackA + 4096}}));
    CHECK(m.failure().find("cannot read a root") != std::string::npos);
  }
  {
    ScanBudget budget(10, 100);  // bytes
    HeapMarker m(w.heap, w.mem, budget);
    CHECK_FALSE(solve_unreachable(m, {{kData, kData + 4096}}, {{{obj(1)}, kStackA, kStackA + 4096}}));
    CHECK(budget.exhausted());
  }
  {
    ScanBudget budget(0, 1ull << 40);  // no time at all
    HeapMarker m(w.heap, w.mem, budget);
    CHECK_FALSE(solve_unreachable(m, {{kData, kData + 4096}}, {{{obj(1)}, kStackA, kStackA + 4096}}));
  }
}

TEST_CASE("reachability: hostile spans are refused", "[reachability]") {
  HeapIndex heap;
  std::string why;
  // Arenas spread over more than the bound.
  CHECK_FALSE(heap.init({go_arena_index(kHeap), go_arena_index(kHeap) + kMaxArenaRange}, &why));
  CHECK_FALSE(why.empty());
  // More arenas than we keep page tables for.
  std::vector<uint64_t> many;
  for (uint64_t i = 0; i <= kMaxArenas; i++) many.push_back(go_arena_index(kHeap) + i);
  CHECK_FALSE(heap.init(many, &why));
  REQUIRE(heap.init({go_arena_index(kHeap)}, &why));
  CHECK_FALSE(heap.add_span(span(kHeap, 0, 1, {})));                            // elemsize 0
  CHECK_FALSE(heap.add_span(span(kHeap, 64, 0, {})));                           // no slots
  CHECK_FALSE(heap.add_span(span(kHeap, 64, 129, {})));                         // more slots than bytes
  CHECK_FALSE(heap.add_span(span(kHeap + 1, 64, 1, {})));                       // not page aligned
  CHECK_FALSE(heap.add_span(span(kHeap - 8192, 64, 1, {})));                    // before the arena
  CHECK_FALSE(heap.add_span(span(kHeap, 8192, 1, {}, kGoPagesPerArena + 1)));  // past the arena
  CHECK_FALSE(heap.add_span(span(kHeap, 64, 1, {}, ~0ull / 8192)));            // absurd page count
  HeapSpanInput short_bits = span(kHeap, 64, 128, {});
  short_bits.alloc.resize(1);
  CHECK_FALSE(heap.add_span(short_bits));                                       // fewer bits than slots
  REQUIRE(heap.add_span(span(kHeap, 64, 128, {0})));
  CHECK_FALSE(heap.add_span(span(kHeap, 64, 128, {0})));                        // overlaps
  CHECK(heap.span_count() == 1);
  // Lookups: only allocated slots inside the span.
  CHECK(heap.find(kHeap + 10));
  CHECK_FALSE(heap.find(kHeap + 64));
  CHECK_FALSE(heap.find(kHeap + 8192));
  CHECK_FALSE(heap.find(0));
  CHECK_FALSE(heap.find(~0ull));
}

TEST_CASE("reachability: subtracting ranges", "[reachability]") {
  auto r = subtract_ranges({{100, 200}, {300, 400}, {500, 500}}, {{150, 160}, {190, 310}, {350, 351}, {0, 10}});
  REQUIRE(r.size() == 4);
  CHECK((r[0].lo == 100 && r[0].hi == 150));
  CHECK((r[1].lo == 160 && r[1].hi == 190));
  CHECK((r[2].lo == 310 && r[2].hi == 350));
  CHECK((r[3].lo == 351 && r[3].hi == 400));
  CHECK(subtract_ranges({{0, 100}}, {{0, 100}}).empty());
  CHECK(subtract_ranges({{0, 100}}, {{50, 40}}).size() == 1);
}

TEST_CASE("reachability: the heap layout table equals the compiler's DWARF, and mheap_ is found in code",
          "[reachability]") {
  for (const std::string& build : mws::test::fixture_builds()) {
    const std::string path = std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver";
    INFO(path);
    auto elf = ElfFile::open(path);
    REQUIRE(elf);
    auto bi = read_go_buildinfo(**elf);
    REQUIRE(bi);
    auto dwarf = go_heap_layout_from_dwarf(**elf);
    REQUIRE(dwarf);
    auto table = go_heap_layout_from_table(bi->version);
    REQUIRE(table);
    CHECK(dwarf->mheap_arenas == table->mheap_arenas);
    CHECK(dwarf->heap_arena_spans == table->heap_arena_spans);
    CHECK(dwarf->span_start_addr == table->span_start_addr);
    CHECK(dwarf->span_npages == table->span_npages);
    CHECK(dwarf->span_freeindex == table->span_freeindex);
    CHECK(dwarf->span_nelems == table->span_nelems);
    CHECK(dwarf->span_alloc_bits == table->span_alloc_bits);
    CHECK(dwarf->span_spanclass == table->span_spanclass);
    CHECK(dwarf->span_state == table->span_state);
    CHECK(dwarf->span_elemsize == table->span_elemsize);
    CHECK(dwarf->span_limit == table->span_limit);
    CHECK(dwarf->span_index_bytes == table->span_index_bytes);
    CHECK(dwarf->g_waiting == table->g_waiting);
    CHECK(dwarf->sudog_waitlink == table->sudog_waitlink);
    CHECK(dwarf->sudog_chan == table->sudog_chan);
    CHECK(dwarf->sudog_sync_addr == table->sudog_sync_addr);
    CHECK(dwarf->m_gsignal == table->m_gsignal);
    CHECK(dwarf->m_alllink == table->m_alllink);

    GoFunctionIndex index(**elf, bi->version, path);
    auto sym = (*elf)->find_symbol("runtime.mheap_");
    REQUIRE(sym);
    CHECK(find_mheap_in_code(**elf, index) == sym->value);
    auto allm = (*elf)->find_symbol("runtime.allm");
    REQUIRE(allm);
    CHECK(find_allm_in_code(**elf, index) == allm->value);
  }
  // The stripped build: no DWARF, no .symtab; the table and the code.
  auto stripped = ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped");
  REQUIRE(stripped);
  CHECK_FALSE(go_heap_layout_from_dwarf(**stripped));
  auto bi = read_go_buildinfo(**stripped);
  REQUIRE(bi);
  CHECK(go_heap_layout(**stripped, bi->version));
  GoFunctionIndex index(**stripped, bi->version, "stripped");
  CHECK(find_mheap(**stripped, index));
  CHECK(find_allm(**stripped, index));
  // No row for a version the table does not know.
  CHECK_FALSE(go_heap_layout_from_table("go1.20.4"));
  CHECK_FALSE(go_heap_layout_from_table("go1.18"));
  CHECK(go_heap_layout_from_table("go1.28.1")->source.find("newest row") != std::string::npos);
}

TEST_CASE("reachability: a P write barrier buffer is not a root, but a look-alike is scanned", "[reachability]") {
  for (bool exact : {true, false}) {
    FakeMemory mem;
    HeapIndex heap;
    REQUIRE(heap.init({go_arena_index(kHeap)}, nullptr));
    const uint64_t pobj = kHeap, chan = kHeap + 8192;
    REQUIRE(heap.add_span(span(pobj, 8192, 1, {0})));  // the "p"
    REQUIRE(heap.add_span(span(chan, 64, 128, {0})));
    mem.regions[kHeap] = std::vector<uint8_t>(16384, 0);
    mem.regions[kData] = std::vector<uint8_t>(64, 0);
    mem.put(kData, pobj);
    const uint64_t wb = pobj + 64, buf = wb + 16;
    mem.put(wb, buf + 80);                               // next
    mem.put(wb + 8, buf + 4096 + (exact ? 0 : 8));       // end
    mem.put(buf + 800, chan);                            // a stale entry
    ScanBudget budget(10, 1 << 20);
    HeapMarker m(heap, mem, budget);
    auto v = solve_unreachable(m, {{kData, kData + 64}}, {{{chan}, 0, 0}});
    REQUIRE(v);
    CHECK((*v)[0] == (exact ? 1 : 0));
  }
}

TEST_CASE("reachability: Ctrl-C cuts the scan at its next batch, and says so", "[reachability]") {
  std::atomic<bool> stop{false};
  ScanBudget budget(100, 1ull << 40, &stop);
  CHECK(budget.charge(4096));
  stop = true;
  CHECK_FALSE(budget.charge(4096));
  CHECK(budget.exhausted());
  CHECK(budget.reason().find("interrupted") == 0);
}
