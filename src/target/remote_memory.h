// Reads another process's memory with process_vm_readv (no ptrace stop:
// the target keeps running). Used before and after recording, never on the
// event path. write() exists for one opt-in case only (--go-sample-rate).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "util/result.h"

namespace mws::target {

// One piece of a batched read: `len` bytes at `addr` into `out`; `ok` says
// whether all of them arrived.
struct RemoteRead {
  uint64_t addr = 0;
  void* out = nullptr;
  size_t len = 0;
  bool ok = false;
};

// Where RemoteMemory's bytes come from when not from a live process: tests
// and fuzzers serve adversarial images (loops, huge lengths, pointers into
// nothing) through it to the same readers.
class MemorySource {
 public:
  virtual ~MemorySource() = default;
  // All `len` bytes at `addr`, or false.
  virtual bool read(uint64_t addr, void* out, size_t len) const = 0;
  // A source is read-only unless it says otherwise.
  virtual bool write(uint64_t, const void*, size_t) const { return false; }
};

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid) : pid_(pid) {}
  // Reads (and writes) served by `source` instead of a process.
  explicit RemoteMemory(std::shared_ptr<const MemorySource> source) : source_(std::move(source)) {}
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
  pid_t pid_ = 0;
  std::shared_ptr<const MemorySource> source_;
};

// The process mwscope inspected, held so that a write into it reaches it
// and no other (--go-sample-rate): PIDs are reused, and a process can exec
// another binary. bind() takes, while inspecting, a pidfd, /proc/PID/mem
// (bound to that process's memory as it is now), the process's start time
// (/proc/PID/stat field 22) and the identity of its executable. A write
// first checks, through the pidfd, that the process still lives with that
// start time and that executable, then goes through the /proc/PID/mem file
// opened at inspection: after an exec or an exit it cannot reach anything.
class BoundProcess {
 public:
  // `exe_fd`: the executable as inspected (ElfFile::fd()).
  static Result<BoundProcess> bind(pid_t pid, int exe_fd);
  BoundProcess(BoundProcess&&) noexcept;
  BoundProcess& operator=(BoundProcess&&) noexcept;
  ~BoundProcess();
  pid_t pid() const { return pid_; }
  // Still the process that was inspected, running the same executable.
  Status verify() const;
  // verify(), then one 8-byte store at an 8-byte aligned address.
  Status write_word(uint64_t addr, int64_t value) const;

 private:
  BoundProcess() = default;
  pid_t pid_ = 0;
  int pidfd_ = -1, mem_fd_ = -1;
  uint64_t start_time_ = 0;
  uint64_t exe_dev_ = 0, exe_ino_ = 0;
};

// Field 22 of /proc/PID/stat: when the process started, in clock ticks
// after boot; nullopt when it cannot be read.
std::optional<uint64_t> process_start_time(pid_t pid);

}  // namespace mws::target
