// Drains a BPF ring buffer into an EventDecoder. BPF submits without
// waking us up until a batch has accumulated, so poll() both waits for a
// wakeup and returns on a timer to drain whatever is there.
#pragma once

#include "collect/event_decoder.h"
#include "util/result.h"

struct bpf_map;
struct ring_buffer;

namespace mws::collect {

class RingConsumer {
 public:
  RingConsumer(bpf_map* events, EventDecoder& decoder);
  ~RingConsumer();
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;
  Status init();
  // Waits up to timeout_ms, consumes everything available. Returns records consumed.
  Result<int> poll(int timeout_ms);
  // Consumes everything left without waiting (after detach).
  Result<int> drain();

 private:
  static int on_record(void* ctx, void* data, size_t size);
  bpf_map* map_;
  EventDecoder& decoder_;
  ring_buffer* rb_ = nullptr;
};

}  // namespace mws::collect
