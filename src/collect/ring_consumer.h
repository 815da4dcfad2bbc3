// Drains a BPF ring buffer into an EventDecoder. BPF submits without
// waking us up until a batch has accumulated, so poll() both waits for a
// wakeup and returns on a timer to drain whatever is there.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>

#include "util/result.h"

struct bpf_map;
struct ring_buffer;

namespace mws::collect {

// One poll waits on every ring added: the Go runtime's and the C heap's.
class RingConsumer {
 public:
  using Decode = std::function<void(const void* data, size_t size)>;
  RingConsumer() = default;
  ~RingConsumer();
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;
  // Each record of `ring` goes to `decode`, in the order BPF submitted it.
  Status add(bpf_map* ring, Decode decode);
  // Waits up to timeout_ms, consumes everything available. Returns records consumed.
  Result<int> poll(int timeout_ms);
  // Consumes everything left without waiting (after detach).
  Result<int> drain();

 private:
  static int on_record(void* ctx, void* data, size_t size);
  std::deque<Decode> decoders_;  // stable addresses: libbpf holds pointers to them
  ring_buffer* rb_ = nullptr;
};

}  // namespace mws::collect
