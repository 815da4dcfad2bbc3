// How many stack frames a ring record holds: BPF sends only the used part of
// an event's stack[] (bpf/frame_walk.h, mws_event_bytes), so stack_len,
// bounded by the record's length. The caller has checked that the record
// reaches stack[].
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mws::collect {

template <typename Event>
uint32_t frames_in(const Event& e, size_t record_size) {
  const size_t room = (record_size - offsetof(Event, stack)) / sizeof(e.stack[0]);
  return static_cast<uint32_t>(std::min<size_t>(e.stack_len, room));
}

}  // namespace mws::collect
