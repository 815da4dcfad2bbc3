#include "target/go_heap_marker.h"

#include <algorithm>
#include <cstring>

#include "target/go_heap_layout.h"

namespace mws::target {

ScanBudget::ScanBudget(double max_seconds, uint64_t max_bytes, const std::atomic<bool>* stop)
    : start_(std::chrono::steady_clock::now()),
      deadline_(start_ + std::chrono::microseconds(static_cast<int64_t>(std::clamp(max_seconds, 0.0, 1e6) * 1e6))),
      max_bytes_(max_bytes),
      stop_(stop) {}

bool ScanBudget::charge(uint64_t bytes) {
  if (exhausted()) return false;
  bytes_ += bytes;
  if (bytes_ > max_bytes_) {
    reason_ = "read limit of " + std::to_string(max_bytes_) + " bytes reached";
    return false;
  }
  if (std::chrono::steady_clock::now() > deadline_) {
    reason_ = "time limit reached after " + std::to_string(bytes_) + " bytes";
    return false;
  }
  if (stop_ && stop_->load()) {
    reason_ = "interrupted after " + std::to_string(bytes_) + " bytes";
    return false;
  }
  return true;
}

double ScanBudget::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

// ---------------------------------------------------------------------------

bool HeapIndex::init(std::vector<uint64_t> arenas, std::string* why) {
  std::sort(arenas.begin(), arenas.end());
  arenas.erase(std::unique(arenas.begin(), arenas.end()), arenas.end());
  pages_.clear();
  spans_.clear();
  bits_.clear();
  lo_ = len_ = 0;
  if (arenas.empty()) return true;
  if (arenas.size() > kMaxArenas) {
    if (why) *why = "the heap has " + std::to_string(arenas.size()) + " arenas (over " + std::to_string(kMaxArenas) + ")";
    return false;
  }
  const uint64_t first = arenas.front(), last = arenas.back();
  if (last - first >= kMaxArenaRange || last >= kGoArenaL2Entries) {
    if (why) *why = "the heap arenas spread over " + std::to_string(last - first + 1) + " arena slots";
    return false;
  }
  lo_ = go_arena_base(first);
  len_ = (last - first + 1) * kGoHeapArenaBytes;
  pages_.resize(last - first + 1);
  for (uint64_t a : arenas) {
    auto p = std::make_unique<uint32_t[]>(kGoPagesPerArena);
    std::fill(p.get(), p.get() + kGoPagesPerArena, kNone);
    pages_[a - first] = std::move(p);
  }
  return true;
}

bool HeapIndex::add_span(HeapSpanInput in) {
  if (spans_.size() >= kMaxHeapSpans || in.npages == 0 || in.elemsize == 0 || in.nelems == 0) return false;
  if (in.start % kGoPageSize != 0 || in.npages > len_ / kGoPageSize) return false;
  const uint64_t bytes = in.npages * kGoPageSize;
  if (in.start - lo_ >= len_ || len_ - (in.start - lo_) < bytes) return false;
  if (in.elemsize > bytes || in.nelems > bytes / in.elemsize) return false;
  if (in.alloc.size() < (in.nelems + 63) / 64) return false;
  // Every page must be in a known arena and free of other spans.
  for (uint64_t p = 0; p < in.npages; p++) {
    const uint64_t a = in.start + p * kGoPageSize;
    const uint32_t* pages = pages_[(a - lo_) >> 26].get();
    if (!pages || pages[(a >> 13) & 8191] != kNone) return false;
  }
  const uint32_t si = static_cast<uint32_t>(spans_.size());
  for (uint64_t p = 0; p < in.npages; p++) {
    const uint64_t a = in.start + p * kGoPageSize;
    pages_[(a - lo_) >> 26][(a >> 13) & 8191] = si;
  }
  const uint64_t words = (in.nelems + 63) / 64;
  Span s;
  s.start = in.start;
  s.elemsize = in.elemsize;
  s.nelems = in.nelems;
  s.noscan = in.noscan;
  s.alloc_off = bits_.size();
  bits_.insert(bits_.end(), in.alloc.begin(), in.alloc.begin() + static_cast<ptrdiff_t>(words));
  // Bits past nelems are never consulted, but keep them clear.
  if (in.nelems % 64) bits_.back() &= (1ull << (in.nelems % 64)) - 1;
  s.mark_off = bits_.size();
  s.scanned_off = s.mark_off + words;
  bits_.resize(bits_.size() + 2 * words, 0);
  spans_.push_back(s);
  return true;
}

std::vector<std::pair<uint64_t, uint64_t>> HeapIndex::arena_ranges() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < pages_.size(); i++)
    if (pages_[i]) out.emplace_back(lo_ + i * kGoHeapArenaBytes, lo_ + (i + 1) * kGoHeapArenaBytes);
  return out;
}

// ---------------------------------------------------------------------------

std::vector<AddressRange> subtract_ranges(std::vector<AddressRange> ranges, std::vector<AddressRange> holes) {
  auto by_lo = [](const AddressRange& a, const AddressRange& b) { return a.lo < b.lo; };
  std::erase_if(holes, [](const AddressRange& r) { return r.hi <= r.lo; });
  std::sort(holes.begin(), holes.end(), by_lo);
  std::vector<AddressRange> out;
  for (const AddressRange& r : ranges) {
    if (r.hi <= r.lo) continue;
    uint64_t cur = r.lo;
    // The first hole that may overlap: holes are sorted by lo, so walk from the
    // first hole whose lo is below r.hi (holes ending before cur are skipped).
    for (const AddressRange& h : holes) {
      if (h.lo >= r.hi) break;
      if (h.hi <= cur) continue;
      if (h.lo > cur) out.push_back({cur, h.lo});
      cur = std::max(cur, h.hi);
      if (cur >= r.hi) break;
    }
    if (cur < r.hi) out.push_back({cur, r.hi});
  }
  std::sort(out.begin(), out.end(), by_lo);
  return out;
}

// ---------------------------------------------------------------------------

void HeapMarker::set_opaque(uint64_t addr) {
  if (auto o = heap_.find(addr)) heap_.mark_scanned(*o);
}

void HeapMarker::mark_word(uint64_t w) {
  auto o = heap_.find(w);
  if (!o || !heap_.mark(*o)) return;
  if (heap_.noscan(o->span)) {
    heap_.mark_scanned(*o);  // no pointers in it (Go's own rule for noscan spans)
    return;
  }
  if (!heap_.queued(o->span)) {
    heap_.set_queued(o->span, true);
    spans_.push_back(o->span);
  }
}

void HeapMarker::scan_words(const uint8_t* bytes, size_t len) {
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + i, 8);
    mark_word(w);
  }
}

void HeapMarker::scan_object(uint64_t base, const uint8_t* bytes, size_t len) {
  // A P's write barrier buffer (mwbbuf.go, every version of the table:
  // wbBuf {next, end uintptr; buf [512]uintptr}, end = &buf[512] once reset)
  // holds pointers the GC has already been told about, and, past next, stale
  // ones from earlier cycles; Go never treats it as a root. It is recognised
  // by its shape: a word `end` pointing exactly 4096 bytes past the word after
  // it, preceded by `next` inside [buf, end].
  constexpr uint64_t kBufBytes = 512 * 8;
  size_t i = 0;
  while (i + 8 <= len) {
    if (i + 16 + kBufBytes <= len) {
      uint64_t next, end;
      std::memcpy(&next, bytes + i, 8);
      std::memcpy(&end, bytes + i + 8, 8);
      const uint64_t buf = base + i + 16;
      if (end == buf + kBufBytes && next >= buf && next <= end) {
        scan_words(bytes + i, 16);
        i += 16 + kBufBytes;
        continue;
      }
    }
    uint64_t w;
    std::memcpy(&w, bytes + i, 8);
    mark_word(w);
    i += 8;
  }
}

void HeapMarker::add_root(AddressRange r) {
  if (r.hi <= r.lo) return;
  r.lo &= ~uint64_t(7);
  ranges_.push_back({r.lo, r.hi - r.lo, true});
}

namespace {

std::string hex(uint64_t v) {
  char s[32];
  snprintf(s, sizeof(s), "0x%llx", static_cast<unsigned long long>(v));
  return s;
}

}  // namespace

template <typename F>
void HeapMarker::read_pieces(std::vector<RemoteRead>& reads, bool root, F&& scan) {
  uint64_t total = 0;
  for (const RemoteRead& r : reads) total += r.len;
  if (!budget_.charge(total)) return;
  mem_.read_many(reads);
  for (size_t i = 0; i < reads.size() && failure_.empty(); i++) {
    RemoteRead& r = reads[i];
    if (!r.ok) {
      // Again page by page: a root may have holes (a guard page); what still
      // cannot be read is unknown memory, so nothing is proven.
      for (uint64_t a = r.addr; a < r.addr + r.len;) {
        const uint64_t next = std::min<uint64_t>(r.addr + r.len, (a & ~uint64_t(4095)) + 4096);
        RemoteRead one{a, static_cast<uint8_t*>(r.out) + (a - r.addr), next - a, false};
        mem_.read_many({&one, 1});
        if (!one.ok) {
          failure_ = std::string("cannot read ") + (root ? "a root" : "a heap object") + " at " + hex(a);
          return;
        }
        a = next;
      }
    }
    scan(i, static_cast<const uint8_t*>(r.out));
  }
}

void HeapMarker::process_ranges() {
  std::vector<RemoteRead> reads;
  uint64_t bytes = 0;
  bool root = true;
  while (!ranges_.empty() && bytes < kBatch && reads.size() < kBatchReads) {
    Range& r = ranges_.back();
    if (!reads.empty() && r.root != root) break;  // one kind per batch (for the message)
    root = r.root;
    const uint64_t n = std::min(kPiece, r.len);
    reads.push_back({r.addr, nullptr, n, false});
    bytes += n;
    r.addr += n;
    r.len -= n;
    if (r.len == 0) ranges_.pop_back();
  }
  buf_.resize(bytes);
  uint64_t off = 0;
  for (RemoteRead& r : reads) {
    r.out = buf_.data() + off;
    off += r.len;
  }
  read_pieces(reads, root, [&](size_t i, const uint8_t* p) { scan_words(p, reads[i].len); });
}

void HeapMarker::process_spans() {
  // Plan: which spans this batch reads, and for each, the whole span or just
  // its pending objects (when they cover under an eighth of it). Objects
  // larger than a piece go to the range list instead, read piece by piece.
  std::vector<RemoteRead> reads;
  std::vector<uint32_t> read_span;  // per read: its span
  std::vector<uint8_t> read_whole;  // per read: the whole span (else one object)
  uint64_t bytes = 0;
  while (span_head_ < spans_.size() && bytes < kBatch && reads.size() < kBatchReads) {
    const uint32_t si = spans_[span_head_++];
    heap_.set_queued(si, false);
    const uint64_t size = heap_.span_elemsize(si), start = heap_.span_start(si);
    if (size > kPiece) {
      heap_.take_pending(si, [&](uint64_t i) { ranges_.push_back({start + i * size, size, false}); });
      continue;
    }
    const uint64_t pending = heap_.count_pending(si);
    if (pending == 0) continue;
    const uint64_t span_bytes = heap_.span_nelems(si) * size;
    if (pending * size * 8 < span_bytes) {
      heap_.take_pending(si, [&](uint64_t i) {
        reads.push_back({start + i * size, nullptr, size, false});
        read_span.push_back(si);
        read_whole.push_back(0);
        bytes += size;
      });
    } else {
      reads.push_back({start, nullptr, span_bytes, false});
      read_span.push_back(si);
      read_whole.push_back(1);
      bytes += span_bytes;
    }
  }
  if (span_head_ == spans_.size()) {
    spans_.clear();
    span_head_ = 0;
  } else if (span_head_ > (1u << 16) && span_head_ * 2 > spans_.size()) {
    spans_.erase(spans_.begin(), spans_.begin() + static_cast<ptrdiff_t>(span_head_));
    span_head_ = 0;
  }
  if (reads.empty()) return;
  buf_.resize(bytes);
  uint64_t off = 0;
  for (RemoteRead& r : reads) {
    r.out = buf_.data() + off;
    off += r.len;
  }
  read_pieces(reads, false, [&](size_t i, const uint8_t* p) {
    const uint32_t si = read_span[i];
    const uint64_t size = heap_.span_elemsize(si);
    if (!read_whole[i]) {
      scan_object(reads[i].addr, p, size);  // one object, taken when planned
      return;
    }
    // The whole span is here: scan its pending objects, and those its own
    // objects mark, until none is left.
    const uint64_t start = heap_.span_start(si);
    while (heap_.take_pending(si, [&](uint64_t k) { scan_object(start + k * size, p + k * size, size); }) > 0) {
    }
  });
}

bool HeapMarker::drain() {
  while (!failed()) {
    if (!ranges_.empty())
      process_ranges();
    else if (span_head_ < spans_.size())
      process_spans();
    else
      return true;
  }
  ranges_.clear();
  spans_.clear();
  span_head_ = 0;
  return false;
}

std::optional<std::vector<uint8_t>> solve_unreachable(HeapMarker& marker, const std::vector<AddressRange>& roots,
                                                      const std::vector<WaitCandidate>& candidates) {
  std::vector<uint8_t> pending(candidates.size(), 1);
  for (const AddressRange& r : roots) {
    marker.add_root(r);
    if (marker.failed()) return std::nullopt;
  }
  for (;;) {
    if (!marker.drain()) return std::nullopt;
    bool changed = false;
    for (size_t i = 0; i < candidates.size(); i++) {
      if (!pending[i]) continue;
      const WaitCandidate& c = candidates[i];
      const bool may_run = std::any_of(c.channels.begin(), c.channels.end(),
                                       [&](uint64_t ch) { return !marker.in_heap(ch) || marker.is_marked(ch); });
      if (!may_run) continue;
      pending[i] = 0;
      changed = true;
      marker.add_root({c.stack_lo, c.stack_hi});
      if (marker.failed()) return std::nullopt;
    }
    if (!changed) return pending;
  }
}

}  // namespace mws::target
