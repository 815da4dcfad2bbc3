#include "target/go_heap_marker.h"

#include <algorithm>
#include <cstring>

#include "target/go_heap_layout.h"

namespace mws::target {

ScanBudget::ScanBudget(double max_seconds, uint64_t max_bytes)
    : start_(std::chrono::steady_clock::now()),
      deadline_(start_ + std::chrono::microseconds(static_cast<int64_t>(std::clamp(max_seconds, 0.0, 1e6) * 1e6))),
      max_bytes_(max_bytes) {}

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
  bits_.resize(bits_.size() + words, 0);
  spans_.push_back(s);
  return true;
}

bool HeapIndex::any_overflow() const {
  return std::any_of(spans_.begin(), spans_.end(), [](const Span& s) { return s.overflow; });
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
  if (auto o = heap_.find(addr)) heap_.mark(*o);
}

void HeapMarker::push_object(HeapIndex::Object o, bool defer) {
  if (heap_.noscan(o)) return;  // no pointers in it (Go's own rule for noscan spans)
  const uint64_t base = heap_.object_base(o), size = heap_.object_size(o);
  const uint64_t pieces = (size + kPiece - 1) / kPiece;
  if (defer && work_.size() + pieces > max_work_) {
    heap_.set_overflow(o.span);  // scanned when the list has room (drain)
    return;
  }
  for (uint64_t off = 0; off < size && !failed(); off += kPiece) push({base + off, std::min(kPiece, size - off), false});
}

void HeapMarker::push(Work w) {
  while (work_.size() >= max_work_ && !failed()) process_batch();
  if (!failed()) work_.push_back(w);
}

void HeapMarker::process_batch() {
  batch_.clear();
  uint64_t bytes = 0;
  while (!work_.empty() && bytes < kBatch && batch_.size() < 1024) {
    batch_.push_back(work_.back());
    bytes += work_.back().len;
    work_.pop_back();
  }
  std::vector<Work> batch;
  batch.swap(batch_);  // scanning may push (and process) more
  read_and_scan(batch);
}

void HeapMarker::scan_words(const uint8_t* bytes, size_t len) {
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes + i, 8);
    auto o = heap_.find(w);
    if (o && heap_.mark(*o)) push_object(*o, true);
  }
}

void HeapMarker::add_root(AddressRange r) {
  if (r.hi <= r.lo) return;
  r.lo &= ~uint64_t(7);
  // Roots are never dropped: push() scans queued work first when the list is full.
  for (uint64_t a = r.lo; a < r.hi && !failed(); a += std::min(kPiece, r.hi - a))
    push({a, std::min(kPiece, r.hi - a), true});
}

void HeapMarker::read_and_scan(std::vector<Work>& batch) {
  uint64_t total = 0;
  for (const Work& w : batch) total += w.len;
  if (!budget_.charge(total)) return;
  buf_.resize(total);
  std::vector<RemoteRead> reads;
  reads.reserve(batch.size());
  uint64_t off = 0;
  for (const Work& w : batch) {
    reads.push_back({w.addr, buf_.data() + off, w.len, false});
    off += w.len;
  }
  mem_.read_many(reads);
  off = 0;
  for (size_t i = 0; i < batch.size(); i++) {
    if (reads[i].ok) {
      scan_words(buf_.data() + off, batch[i].len);
    } else {
      // Read again page by page: a root range may have holes (a guard page);
      // what still cannot be read is unknown memory, so nothing is proven.
      const uint64_t end = batch[i].addr + batch[i].len;
      for (uint64_t a = batch[i].addr; a < end;) {
        const uint64_t next = std::min<uint64_t>(end, (a & ~uint64_t(4095)) + 4096);
        RemoteRead one{a, buf_.data() + off + (a - batch[i].addr), next - a, false};
        mem_.read_many({&one, 1});
        if (one.ok) {
          scan_words(buf_.data() + off + (a - batch[i].addr), next - a);
        } else if (failure_.empty()) {
          failure_ = std::string("cannot read ") + (batch[i].root ? "a root" : "a heap object") + " at 0x" +
                     [](uint64_t v) {
                       char s[32];
                       snprintf(s, sizeof(s), "%llx", static_cast<unsigned long long>(v));
                       return std::string(s);
                     }(a);
        }
        a = next;
      }
    }
    off += batch[i].len;
  }
}

bool HeapMarker::drain() {
  for (;;) {
    while (!work_.empty() && !failed()) process_batch();
    if (failed()) {
      work_.clear();
      return false;
    }
    if (!heap_.any_overflow()) return true;
    // Objects marked while the list was full: scan every marked object of
    // their spans (again, for some: harmless), making room as needed. Only a
    // newly marked object can overflow again, so this ends.
    heap_.for_each_overflowed_marked([&](HeapIndex::Object o) { push_object(o, false); });
  }
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
