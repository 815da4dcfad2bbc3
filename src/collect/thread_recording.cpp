#include <cstring>
#include <span>
#include <string>

#include "collect/thread_recording.h"

namespace mws::collect {

void decode_thread_event(ThreadRecording& rec, const void* data, size_t size) {
  if (size < sizeof(mws_event_header)) {
    rec.malformed++;
    return;
  }
  mws_event_header hdr;
  std::memcpy(&hdr, data, sizeof hdr);
  if (hdr.kind == MWS_EV_THREAD_NEW && size >= offsetof(mws_thread_new_event, stack)) {
    const auto* e = static_cast<const mws_thread_new_event*>(data);
    const uint32_t n = e->stack_len;
    if (n > MWS_MAX_STACK_DEPTH || size < offsetof(mws_thread_new_event, stack) + n * sizeof(uint64_t)) {
      rec.malformed++;
      return;
    }
    if (hdr.flags & MWS_FLAG_STACK_TRUNCATED) rec.truncated_stacks++;
    // The kernel gives the user pc first: a pc, not a return address; the
    // symbolizer looks up ret - 1, so hand it pc + 1.
    std::vector<uint64_t> stack(e->stack, e->stack + n);
    if (!stack.empty()) stack[0] += 1;
    rec.tracker.on_new(hdr.tid, e->parent_tid, hdr.ts_ns, std::string(e->comm, strnlen(e->comm, sizeof e->comm)),
                       stack);
  } else if (hdr.kind == MWS_EV_THREAD_EXIT && size >= sizeof(mws_thread_exit_event)) {
    rec.tracker.on_exit(hdr.tid, hdr.ts_ns);
  } else {
    rec.malformed++;
  }
}

}  // namespace mws::collect
