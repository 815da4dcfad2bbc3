#include "collect/c_heap_decoder.h"

#include <algorithm>
#include <cstddef>
#include <span>

#include "bpf/events.h"
#include "collect/record_frames.h"

namespace mws::collect {

void CHeapDecoder::decode(const void* data, size_t size) {
  const auto* hdr = static_cast<const mws_event_header*>(data);
  if (size >= offsetof(mws_c_alloc_event, stack) && hdr->kind == MWS_EV_C_ALLOC) {
    const auto* e = static_cast<const mws_c_alloc_event*>(data);
    const uint32_t len = frames_in(*e, size);
    model::CStackShape shape{e->func, std::min(e->c_frames, len), (e->hdr.flags & MWS_C_FLAG_GO_STACK) != 0};
    uint64_t pcs[MWS_MAX_STACK_DEPTH];
    std::copy(e->stack, e->stack + len, pcs);
    heap_.on_alloc(std::span<const uint64_t>(pcs, len), shape, e->ptr, e->size, e->old_ptr, e->hdr.ts_ns);
    return;
  }
  if (size >= sizeof(mws_c_free_event) && hdr->kind == MWS_EV_C_FREE) {
    const auto* e = static_cast<const mws_c_free_event*>(data);
    heap_.on_free(e->ptr, e->chunk_bytes);
    return;
  }
  malformed_++;
}

}  // namespace mws::collect
