#include "collect/ring_consumer.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace mws::collect {

RingConsumer::~RingConsumer() {
  if (rb_) ring_buffer__free(rb_);
}

Status RingConsumer::add(bpf_map* ring, Decode decode) {
  Decode* ctx = &decoders_.emplace_back(std::move(decode));
  const int fd = bpf_map__fd(ring);
  if (!rb_) {
    rb_ = ring_buffer__new(fd, &RingConsumer::on_record, ctx, nullptr);
    if (!rb_) return Error{std::string("cannot open the BPF ring buffer: ") + std::strerror(errno)};
  } else if (int err = ring_buffer__add(rb_, fd, &RingConsumer::on_record, ctx)) {
    return Error{std::string("cannot open the BPF ring buffer: ") + std::strerror(-err)};
  }
  return Ok{};
}

int RingConsumer::on_record(void* ctx, void* data, size_t size) {
  (*static_cast<Decode*>(ctx))(data, size);
  return 0;
}

Result<int> RingConsumer::poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n == -EINTR) return 0;
  if (n < 0) return Error{std::string("reading the BPF ring buffer failed: ") + std::strerror(-n)};
  // BPF submits with BPF_RB_NO_WAKEUP until a batch has built up, so a
  // poll that times out has consumed nothing: this is what drains those
  // records (and whatever arrived after a wakeup).
  int more = ring_buffer__consume(rb_);
  return n + (more > 0 ? more : 0);
}

Result<int> RingConsumer::drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0) return Error{std::string("reading the BPF ring buffer failed: ") + std::strerror(-n)};
  return n;
}

}  // namespace mws::collect
