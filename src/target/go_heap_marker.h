// A conservative mark over a copy of the Go heap's shape: which objects are
// allocated (span by span), which ones are reachable from given root ranges,
// and the fixpoint of Go's goroutine leak detector (mgc.go,
// findMaybeRunnableGoroutines): a goroutine blocked on channels becomes a
// root once one of its channels is marked. It knows nothing about Go versions
// or processes: the spans, roots and candidates come from the caller
// (target/go_reachability.cpp) and object contents from a RemoteMemory (a fake MemorySource in tests), so
// tests can feed it a synthetic object graph.
//
// Everything it is given may be hostile: spans are checked before use, every
// read is bounded by a ScanBudget (bytes and time), the work queue holds each
// span at most once, and each object is marked and scanned once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "target/remote_memory.h"

namespace mws::target {

// How much one analysis may read and for how long; charge() says false (and
// records why) once either runs out.
class ScanBudget {
 public:
  // `stop` (Ctrl-C, SIGTERM), when set, ends it at the next charge.
  ScanBudget(double max_seconds, uint64_t max_bytes, const std::atomic<bool>* stop = nullptr);
  bool charge(uint64_t bytes);
  bool exhausted() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }
  uint64_t bytes() const { return bytes_; }
  double seconds() const;

 private:
  std::chrono::steady_clock::time_point start_, deadline_;
  uint64_t max_bytes_ = 0, bytes_ = 0;
  const std::atomic<bool>* stop_ = nullptr;
  std::string reason_;
};

// One in-use span: objects [start + i*elemsize, +elemsize) for i < nelems.
// alloc has one bit per slot (set = allocated: i < freeindex or allocBits bit i).
struct HeapSpanInput {
  uint64_t start = 0, npages = 0, elemsize = 0, nelems = 0;
  bool noscan = false;  // spanclass noscan bit: its objects hold no pointers
  std::vector<uint64_t> alloc;
};

// At most this many in-use spans (an 8 GiB heap of one-page spans); about
// 100 bytes of ours each, plus 3 bits per object.
inline constexpr uint64_t kMaxHeapSpans = 1u << 20;
inline constexpr uint64_t kMaxArenaRange = 1u << 16;  // arenas between the lowest and the highest (4 TiB)
inline constexpr uint64_t kMaxArenas = 1024;          // arenas with spans (64 GiB of heap; 32 KiB of ours each)

// The heap's objects: page -> span -> slot, allocation and mark bits.
class HeapIndex {
 public:
  // `arenas`: the arena indices (go_arena_index) that hold spans; false (and a
  // message) when they spread over more than kMaxArenaRange.
  bool init(std::vector<uint64_t> arenas, std::string* why);
  // Adds a span; false (span ignored) when it is malformed, leaves the arenas,
  // or overlaps a span already added.
  bool add_span(HeapSpanInput span);
  size_t span_count() const { return spans_.size(); }

  struct Object {
    uint32_t span = 0;
    uint64_t index = 0;
  };
  // The allocated object containing addr (nothing for a free slot, a span's tail
  // or an address outside the heap).
  std::optional<Object> find(uint64_t addr) const {
    if (addr - lo_ >= len_) return std::nullopt;
    const uint32_t* pages = pages_[((addr - lo_) >> 26)].get();
    if (!pages) return std::nullopt;
    const uint32_t si = pages[(addr >> 13) & 8191];
    if (si == kNone) return std::nullopt;
    const Span& s = spans_[si];
    if (addr < s.start) return std::nullopt;
    const uint64_t i = (addr - s.start) / s.elemsize;
    if (i >= s.nelems || !bit(s.alloc_off, i)) return std::nullopt;
    return Object{si, i};
  }
  uint64_t object_base(Object o) const { return spans_[o.span].start + o.index * spans_[o.span].elemsize; }
  bool noscan(uint32_t span) const { return spans_[span].noscan; }
  uint64_t span_start(uint32_t span) const { return spans_[span].start; }
  uint64_t span_elemsize(uint32_t span) const { return spans_[span].elemsize; }
  uint64_t span_nelems(uint32_t span) const { return spans_[span].nelems; }
  bool marked(Object o) const { return bit(spans_[o.span].mark_off, o.index); }
  // Marks; true when it was not marked before.
  bool mark(Object o) {
    uint64_t& w = bits_[spans_[o.span].mark_off + o.index / 64];
    const uint64_t m = 1ull << (o.index % 64);
    if (w & m) return false;
    w |= m;
    return true;
  }
  // Marks and counts as scanned (an object whose words must not be followed).
  void mark_scanned(Object o) {
    mark(o);
    bits_[spans_[o.span].scanned_off + o.index / 64] |= 1ull << (o.index % 64);
  }
  // Calls f(index) for each object of the span marked and not yet scanned, and
  // counts it scanned; returns how many.
  template <typename F>
  uint64_t take_pending(uint32_t span, F&& f) {
    const Span& s = spans_[span];
    uint64_t n = 0;
    for (uint64_t w = 0; w < (s.nelems + 63) / 64; w++) {
      uint64_t pend = bits_[s.mark_off + w] & ~bits_[s.scanned_off + w];
      bits_[s.scanned_off + w] |= pend;
      while (pend) {
        const int b = __builtin_ctzll(pend);
        pend &= pend - 1;
        f(w * 64 + uint64_t(b));
        n++;
      }
    }
    return n;
  }
  uint64_t count_pending(uint32_t span) const {
    const Span& s = spans_[span];
    uint64_t n = 0;
    for (uint64_t w = 0; w < (s.nelems + 63) / 64; w++)
      n += uint64_t(__builtin_popcountll(bits_[s.mark_off + w] & ~bits_[s.scanned_off + w]));
    return n;
  }
  // Whether the span waits in the marker's queue.
  bool queued(uint32_t span) const { return spans_[span].queued; }
  void set_queued(uint32_t span, bool q) { spans_[span].queued = q; }
  // The address ranges of the arenas ([base, base + 64 MiB) each), sorted.
  std::vector<std::pair<uint64_t, uint64_t>> arena_ranges() const;

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct Span {
    uint64_t start = 0, elemsize = 0, nelems = 0;
    uint64_t alloc_off = 0, mark_off = 0, scanned_off = 0;  // word offsets into bits_
    bool noscan = false, queued = false;
  };
  bool bit(uint64_t off, uint64_t i) const { return (bits_[off + i / 64] >> (i % 64)) & 1; }
  uint64_t lo_ = 0, len_ = 0;  // [lo_, lo_ + len_): the arenas' address range
  std::vector<std::unique_ptr<uint32_t[]>> pages_;  // per arena in range (null: not heap)
  std::vector<Span> spans_;
  std::vector<uint64_t> bits_;
};

// A goroutine blocked on channels (or on nothing: a nil channel, select{}).
struct WaitCandidate {
  std::vector<uint64_t> channels;  // each sudog.c; empty = waits on nothing (never runnable)
  uint64_t stack_lo = 0, stack_hi = 0;  // its stack's used part, a root once it may run
};

struct AddressRange {
  uint64_t lo = 0, hi = 0;
};

// [lo, hi) ranges minus `holes` (both any order, may overlap): what is left, sorted.
std::vector<AddressRange> subtract_ranges(std::vector<AddressRange> ranges, std::vector<AddressRange> holes);

// The mark works span by span, as Go's "green tea" collector does: a span
// with marked, unscanned objects waits in a queue (at most once), and is read
// whole (or just its pending objects, when few) in one piece, so a heap of
// small objects costs a few large reads rather than one per object. The
// queue holds span numbers only, so it is bounded by the span count.
class HeapMarker {
 public:
  HeapMarker(HeapIndex& heap, const RemoteMemory& mem, ScanBudget& budget) : heap_(heap), mem_(mem), budget_(budget) {}
  // An object marked but never scanned (a blocked goroutine's own sudog).
  void set_opaque(uint64_t addr);
  // Queues [lo, hi) to be read, and what its words point at marked (drain()).
  void add_root(AddressRange r);
  // Scans until nothing is left to scan; false when the budget ran out or
  // memory that should be readable was not (failed() says which).
  bool drain();
  bool is_marked(uint64_t addr) const {
    auto o = heap_.find(addr);
    return o && heap_.marked(*o);
  }
  bool in_heap(uint64_t addr) const { return heap_.find(addr).has_value(); }
  bool failed() const { return !failure_.empty() || budget_.exhausted(); }
  std::string failure() const { return failure_.empty() ? budget_.reason() : failure_; }
  void scan_words(const uint8_t* bytes, size_t len);  // exposed for tests
  // A heap object at `base`: its words, except a write barrier buffer's.
  void scan_object(uint64_t base, const uint8_t* bytes, size_t len);

 private:
  struct Range {
    uint64_t addr, len;
    bool root;  // a root (its unreadable parts are a failure) or a large object
  };
  static constexpr uint64_t kPiece = 1u << 20;   // ranges are read in pieces of at most 1 MiB
  static constexpr uint64_t kBatch = 4u << 20;   // bytes read per batch
  static constexpr size_t kBatchReads = 1024;    // pieces per batch (IOV_MAX)
  void mark_word(uint64_t w);
  void process_ranges();
  void process_spans();
  // Reads the pieces; on a failed piece, page by page, and a page that still
  // cannot be read is a failure. Calls scan(i, bytes) for every piece read.
  template <typename F>
  void read_pieces(std::vector<RemoteRead>& reads, bool root, F&& scan);
  HeapIndex& heap_;
  const RemoteMemory& mem_;
  ScanBudget& budget_;
  std::vector<Range> ranges_;   // roots and large objects, split as read
  std::vector<uint32_t> spans_;  // the span queue (FIFO from span_head_)
  size_t span_head_ = 0;
  std::vector<uint8_t> buf_;
  std::string failure_;
};

// Go's fixpoint: roots are marked; a candidate one of whose channels is marked
// (or is no allocated heap object: Go's isMarkedOrNotInHeap) may run again and
// its stack becomes a root; repeat until nothing changes. Returns per candidate
// 1 = never marked (unreachable), or nothing when the marker failed.
std::optional<std::vector<uint8_t>> solve_unreachable(HeapMarker& marker, const std::vector<AddressRange>& roots,
                                                      const std::vector<WaitCandidate>& candidates);

}  // namespace mws::target
