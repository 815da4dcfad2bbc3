#include "interpret/c_heap_section.h"

#include <algorithm>
#include <map>

#include "bpf/events.h"

namespace mws::interpret {
namespace {

const char* allocator_name(uint32_t func) {
  switch (func) {
    case MWS_C_MALLOC: return "malloc";
    case MWS_C_CALLOC: return "calloc";
    case MWS_C_REALLOC: return "realloc";
    case MWS_C_MEMALIGN: return "memalign";
    case MWS_C_POSIX_MEMALIGN: return "posix_memalign";
    default: return "[C allocator]";
  }
}

}  // namespace

CHeapSummary build_c_heap(const collect::RawRecording& raw, symbolize::StackSymbolizer& sym) {
  CHeapSummary c;
  c.recorded = raw.c_heap_tracked;
  c.libc = raw.c_heap_libc;
  c.go_stacks_unavailable = raw.c_heap_go_stacks_unavailable;
  if (!c.recorded) return c;
  const model::CHeapTracker& heap = raw.c_heap;
  c.frees_before_attach = heap.frees_before_attach();
  c.chunk_bytes_freed_before_attach = heap.chunk_bytes_freed_before_attach();
  c.dropped = heap.dropped() + raw.c_heap_dropped_ring_full + raw.c_heap_malformed;
  c.unmatched_returns = raw.c_heap_unmatched_returns;

  // What is still allocated, per stack key, and since when.
  struct Held {
    uint64_t objects = 0, bytes = 0, oldest_ns = UINT64_MAX;
  };
  std::unordered_map<model::StackKey, Held, model::StackKeyHash> held;
  for (const auto& [ptr, b] : heap.live()) {
    Held& h = held[b.key];
    h.objects++;
    h.bytes += b.size;
    h.oldest_ns = std::min(h.oldest_ns, b.ts_ns);
  }
  // Symbolized stacks that read the same (two raw stacks through one
  // function) are one row.
  std::map<std::vector<FrameId>, size_t> index;
  for (const auto& [key, counts] : heap.counts()) {
    const model::CStackShape shape = model::CStackShape::unpack(key.word);
    std::vector<FrameId> ids{sym.intern(Frame{allocator_name(shape.func), "", 0, false})};
    const auto more = sym.symbolize(heap.stacks().pcs(key.stack));
    ids.insert(ids.end(), more.begin(), more.end());
    auto [it, fresh] = index.try_emplace(ids, c.stacks.size());
    if (fresh) {
      CHeapStack s;
      s.frame_ids = std::move(ids);
      c.stacks.push_back(std::move(s));
    }
    CHeapStack& s = c.stacks[it->second];
    s.allocs += counts.allocs;
    s.bytes += counts.bytes;
    s.frees += counts.frees;
    s.freed_bytes += counts.freed_bytes;
    if (auto h = held.find(key); h != held.end()) {
      s.inuse_objects += h->second.objects;
      s.inuse_bytes += h->second.bytes;
      if (raw.ended_monotonic_ns > h->second.oldest_ns)
        s.oldest_inuse_age_s =
            std::max(s.oldest_inuse_age_s, double(raw.ended_monotonic_ns - h->second.oldest_ns) / 1e9);
    }
    if (!raw.go_version.empty() && !shape.go_stack) c.without_go_stack += counts.allocs;
  }
  for (const CHeapStack& s : c.stacks) {
    c.allocs += s.allocs;
    c.bytes += s.bytes;
    c.frees += s.frees;
    c.freed_bytes += s.freed_bytes;
    c.inuse_objects += s.inuse_objects;
    c.inuse_bytes += s.inuse_bytes;
  }
  std::sort(c.stacks.begin(), c.stacks.end(), [](const CHeapStack& a, const CHeapStack& b) {
    if (a.inuse_bytes != b.inuse_bytes) return a.inuse_bytes > b.inuse_bytes;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.frame_ids < b.frame_ids;
  });
  return c;
}

}  // namespace mws::interpret
