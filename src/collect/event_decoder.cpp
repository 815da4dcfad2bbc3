#include "collect/event_decoder.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "bpf/events.h"
#include "collect/record_frames.h"

namespace mws::collect {

size_t EventDecoder::splice_stack(const mws_event_header& hdr, uint64_t caller, const __u64* stack,
                                  uint32_t stack_len, uint64_t* out) {
  if (hdr.flags & MWS_FLAG_STACK_TRUNCATED) stats_.truncated_stacks++;
  size_t n = 0;
  if (hdr.flags & MWS_FLAG_NO_CALLER)
    stats_.missing_caller++;
  else
    out[n++] = caller;
  uint32_t len = stack_len > MWS_MAX_STACK_DEPTH ? MWS_MAX_STACK_DEPTH : stack_len;
  for (uint32_t i = 1; i < len; i++) out[n++] = stack[i];
  return n;
}

void apply_exits(model::TaskTracker& tasks, const mws_exit_batch& batch) {
  const uint32_t n = batch.count < MWS_EXIT_BATCH ? batch.count : MWS_EXIT_BATCH;
  for (uint32_t i = 0; i < n; i++) tasks.on_exit(batch.exit[i].g_addr, batch.exit[i].ts_ns);
}

void EventDecoder::decode(const void* data, size_t size) {
  if (size < sizeof(mws_event_header)) {
    stats_.malformed++;
    return;
  }
  const auto* hdr = static_cast<const mws_event_header*>(data);
  uint64_t pcs[MWS_MAX_STACK_DEPTH + 1];
  switch (hdr->kind) {
    case MWS_EV_ALLOC: {
      if (size < offsetof(mws_alloc_event, stack)) break;
      const auto* e = static_cast<const mws_alloc_event*>(data);
      size_t n = splice_stack(e->hdr, e->caller, e->stack, frames_in(*e, size), pcs);
      allocs_.add_alloc(std::span<const uint64_t>(pcs, n), e->size, e->type_addr, e->spawn_ctx, e->route_tag);
      return;
    }
    case MWS_EV_ALLOC_STACK: {
      if (size < offsetof(mws_alloc_event, stack)) break;
      const auto* e = static_cast<const mws_alloc_event*>(data);
      size_t n = splice_stack(e->hdr, e->caller, e->stack, frames_in(*e, size), pcs);
      allocs_.add_hashed_stack(e->object, std::span<const uint64_t>(pcs, n));
      return;
    }
    case MWS_EV_SAMPLE_ALLOC: {
      if (size < offsetof(mws_alloc_event, stack)) break;
      const auto* e = static_cast<const mws_alloc_event*>(data);
      size_t n = splice_stack(e->hdr, e->caller, e->stack, frames_in(*e, size), pcs);
      samples_.on_alloc(std::span<const uint64_t>(pcs, n), e->size, e->spawn_ctx, e->route_tag);
      return;
    }
    case MWS_EV_TASK_SPAWN: {
      if (size < offsetof(mws_task_spawn_event, stack)) break;
      const auto* e = static_cast<const mws_task_spawn_event*>(data);
      size_t n = splice_stack(e->hdr, e->caller, e->stack,
                              frames_in(*e, size), pcs);
      tasks_.on_spawn(e->goid, e->g_addr, e->startpc, e->gopc, e->hdr.ts_ns,
                      std::span<const uint64_t>(pcs, n), e->spawn_ctx, e->parent_ctx, e->route_tag);
      return;
    }
    case MWS_EV_ROUTE: {
      // A record ends with its last segment's bytes (mws_route_event_bytes):
      // no segment is read past what the record holds.
      constexpr size_t fixed = offsetof(mws_route_event, segment);
      if (size < fixed) break;
      mws_route_event e{};
      const size_t held = std::min(size, sizeof(e));
      std::memcpy(&e, data, held);
      for (size_t i = 0; i < MWS_ROUTE_MAX_SEGMENTS; i++) {
        const size_t at = fixed + i * MWS_ROUTE_SEGMENT_BYTES;
        const size_t room = held > at ? std::min<size_t>(held - at, MWS_ROUTE_SEGMENT_BYTES) : 0;
        e.segment_len[i] = std::min<uint32_t>(e.segment_len[i], static_cast<uint32_t>(room));
      }
      routes_.on_route(e);
      return;
    }
    case MWS_EV_TASK_EXITS: {
      if (size < sizeof(mws_task_exits_event)) break;
      const auto& batch = static_cast<const mws_task_exits_event*>(data)->batch;
      if (batch.count > MWS_EXIT_BATCH) break;
      apply_exits(tasks_, batch);
      return;
    }
    default:
      break;
  }
  stats_.malformed++;
}

}  // namespace mws::collect
