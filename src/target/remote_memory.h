// Reads another process's memory with process_vm_readv (no ptrace stop:
// the target keeps running). Used after recording, never on the event path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace mws::target {

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid) : pid_(pid) {}
  bool read(uint64_t addr, void* out, size_t len) const;
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
