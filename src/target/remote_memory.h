// Reads another process's memory with process_vm_readv (no ptrace stop:
// the target keeps running). Used before and after recording, never on the
// event path. write() exists for one opt-in case only (--go-sample-rate).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mws::target {

// One piece of a batched read: `len` bytes at `addr` into `out`; `ok` says
// whether all of them arrived.
struct RemoteRead {
  uint64_t addr = 0;
  void* out = nullptr;
  size_t len = 0;
  bool ok = false;
};

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid) : pid_(pid) {}
  bool read(uint64_t addr, void* out, size_t len) const;
  // Many reads in few system calls (up to IOV_MAX pieces each): reading
  // 100,000 goroutines one syscall at a time costs seconds. A piece that
  // cannot be read (unmapped) fails alone; the others go on.
  void read_many(std::span<RemoteRead> reads) const;
  // process_vm_writev of one aligned word or less: a single store, which
  // the target sees whole.
  bool write(uint64_t addr, const void* data, size_t len) const;
  template <typename T>
  std::optional<T> read(uint64_t addr) const {
    T v{};
    if (!read(addr, &v, sizeof(v))) return std::nullopt;
    return v;
  }

 private:
  pid_t pid_;
};

}  // namespace mws::target
