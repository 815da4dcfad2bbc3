#include "collect/event_decoder.h"

#include <cstddef>

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
      if (size < sizeof(mws_route_event)) break;
      routes_.on_route(*static_cast<const mws_route_event*>(data));
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
