#include "target/remote_memory.h"

#include <sys/uio.h>

namespace mws::target {

bool RemoteMemory::read(uint64_t addr, void* out, size_t len) const {
  if (addr == 0) return false;
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

bool RemoteMemory::write(uint64_t addr, const void* data, size_t len) const {
  if (addr == 0) return false;
  iovec local{const_cast<void*>(data), len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_writev(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

}  // namespace mws::target
