#include "collect/event_decoder.h"

#include <cstring>

#include "bpf/events.h"

namespace mws::collect {

void EventDecoder::decode(const void* data, size_t size) {
  if (size < sizeof(mws_event_header)) {
    stats_.malformed++;
    return;
  }
  const auto* hdr = static_cast<const mws_event_header*>(data);
  if (hdr->kind != MWS_EV_ALLOC || size < sizeof(mws_alloc_event)) {
    stats_.malformed++;
    return;
  }
  const auto* e = static_cast<const mws_alloc_event*>(data);
  if (e->hdr.flags & MWS_FLAG_STACK_TRUNCATED) stats_.truncated_stacks++;

  // stack[0] is the probed instruction inside the allocator itself; the
  // allocation's stack starts at its caller, read from [SP] by BPF.
  uint64_t pcs[MWS_MAX_STACK_DEPTH + 1];
  size_t n = 0;
  if (e->hdr.flags & MWS_FLAG_NO_CALLER)
    stats_.missing_caller++;
  else
    pcs[n++] = e->caller;
  uint32_t len = e->stack_len > MWS_MAX_STACK_DEPTH ? MWS_MAX_STACK_DEPTH : e->stack_len;
  for (uint32_t i = 1; i < len; i++) pcs[n++] = e->stack[i];
  agg_.add_alloc(std::span<const uint64_t>(pcs, n), e->size);
}

}  // namespace mws::collect
