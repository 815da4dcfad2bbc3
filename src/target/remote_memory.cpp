#include "target/remote_memory.h"

#include <sys/uio.h>

namespace mws::target {

bool RemoteMemory::read(uint64_t addr, void* out, size_t len) const {
  if (addr == 0) return false;
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

void RemoteMemory::read_many(std::span<RemoteRead> reads) const {
  constexpr size_t kBatch = 1024;  // IOV_MAX on Linux
  std::vector<iovec> local, remote;
  local.reserve(kBatch);
  remote.reserve(kBatch);
  size_t next = 0;
  while (next < reads.size()) {
    // From `next` on, as many pieces as one call takes (skipping null addresses).
    local.clear();
    remote.clear();
    std::vector<size_t> index;
    for (size_t i = next; i < reads.size() && local.size() < kBatch; i++) {
      reads[i].ok = false;
      if (reads[i].addr == 0 || reads[i].len == 0) continue;
      local.push_back({reads[i].out, reads[i].len});
      remote.push_back({reinterpret_cast<void*>(reads[i].addr), reads[i].len});
      index.push_back(i);
    }
    const size_t end = index.empty() ? reads.size() : index.back() + 1;
    if (index.empty()) break;
    const ssize_t got = process_vm_readv(pid_, local.data(), local.size(), remote.data(), remote.size(), 0);
    // The kernel stops at the first remote piece it cannot read: the ones
    // before it arrived whole; that one failed; retry after it.
    size_t done = 0, bytes = got > 0 ? size_t(got) : 0;
    while (done < index.size() && bytes >= remote[done].iov_len) {
      bytes -= remote[done].iov_len;
      reads[index[done]].ok = true;
      done++;
    }
    next = done < index.size() ? index[done] + 1 : end;
  }
}

bool RemoteMemory::write(uint64_t addr, const void* data, size_t len) const {
  if (addr == 0) return false;
  iovec local{const_cast<void*>(data), len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_writev(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

}  // namespace mws::target
