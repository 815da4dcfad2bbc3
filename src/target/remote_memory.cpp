#include "target/remote_memory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

namespace mws::target {

bool RemoteMemory::read(uint64_t addr, void* out, size_t len) const {
  if (addr == 0) return false;
  if (source_) return source_->read(addr, out, len);
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

void RemoteMemory::read_many(std::span<RemoteRead> reads) const {
  if (source_) {
    for (RemoteRead& r : reads) r.ok = r.addr != 0 && r.len != 0 && source_->read(r.addr, r.out, r.len);
    return;
  }
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
  if (source_) return source_->write(addr, data, len);
  iovec local{const_cast<void*>(data), len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_writev(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "PID (comm) STATE ...": comm may hold spaces and ')'; field 3 follows the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  size_t pos = close + 1;
  for (int field = 3; field < 22; field++) {
    pos = stat.find(' ', pos + 1);
    if (pos == std::string::npos) return std::nullopt;
  }
  char* end = nullptr;
  const unsigned long long v = std::strtoull(stat.c_str() + pos + 1, &end, 10);
  if (end == stat.c_str() + pos + 1) return std::nullopt;
  return v;
}

namespace {

Status same_file(int fd, const std::string& path, uint64_t dev, uint64_t ino) {
  struct stat st {};
  if (fd >= 0 ? fstat(fd, &st) != 0 : stat(path.c_str(), &st) != 0)
    return Error{"cannot stat " + path + ": " + std::strerror(errno)};
  if (uint64_t(st.st_dev) != dev || uint64_t(st.st_ino) != ino)
    return Error{"its executable is not the one inspected (it ran exec?)"};
  return Ok{};
}

}  // namespace

Result<BoundProcess> BoundProcess::bind(pid_t pid, int exe_fd) {
  BoundProcess b;
  b.pid_ = pid;
  const std::string proc = "/proc/" + std::to_string(pid);
  b.pidfd_ = int(syscall(SYS_pidfd_open, pid, 0));
  if (b.pidfd_ < 0) return Error{"cannot hold process " + std::to_string(pid) + " (pidfd_open: " + std::strerror(errno) + ")"};
  auto start = process_start_time(pid);
  if (!start) return Error{"cannot read the start time of process " + std::to_string(pid)};
  b.start_time_ = *start;
  struct stat exe {};
  if (fstat(exe_fd, &exe) != 0) return Error{"cannot stat the executable: " + std::string(std::strerror(errno))};
  b.exe_dev_ = exe.st_dev;
  b.exe_ino_ = exe.st_ino;
  if (auto st = same_file(-1, proc + "/exe", b.exe_dev_, b.exe_ino_); !st) return st.error();
  b.mem_fd_ = open((proc + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  if (b.mem_fd_ < 0) return Error{"cannot open " + proc + "/mem: " + std::strerror(errno)};
  // All of the above read the process the pidfd holds only if it still lives.
  if (auto st = b.verify(); !st) return st.error();
  return b;
}

BoundProcess::BoundProcess(BoundProcess&& o) noexcept { *this = std::move(o); }

BoundProcess& BoundProcess::operator=(BoundProcess&& o) noexcept {
  if (this != &o) {
    if (pidfd_ >= 0) close(pidfd_);
    if (mem_fd_ >= 0) close(mem_fd_);
    pid_ = o.pid_;
    pidfd_ = std::exchange(o.pidfd_, -1);
    mem_fd_ = std::exchange(o.mem_fd_, -1);
    start_time_ = o.start_time_;
    exe_dev_ = o.exe_dev_;
    exe_ino_ = o.exe_ino_;
  }
  return *this;
}

BoundProcess::~BoundProcess() {
  if (pidfd_ >= 0) close(pidfd_);
  if (mem_fd_ >= 0) close(mem_fd_);
}

Status BoundProcess::verify() const {
  const std::string what = "process " + std::to_string(pid_);
  if (pidfd_ < 0 || mem_fd_ < 0) return Error{what + " is not held"};
  // Read what /proc says of the PID now, then ask the pidfd whether the
  // process it holds still lives: if it does, the PID was not reused, and
  // what /proc said was about it.
  auto start = process_start_time(pid_);
  const Status exe = same_file(-1, "/proc/" + std::to_string(pid_) + "/exe", exe_dev_, exe_ino_);
  if (syscall(SYS_pidfd_send_signal, pidfd_, 0, nullptr, 0) != 0)
    return Error{what + " is gone (" + std::strerror(errno) + ")"};
  if (!start || *start != start_time_) return Error{what + " is not the one inspected (another start time)"};
  if (!exe) return Error{what + ": " + exe.error().message};
  return Ok{};
}

Status BoundProcess::write_word(uint64_t addr, int64_t value) const {
  if (addr == 0 || addr % 8 != 0) return Error{"refusing to write at an unaligned address"};
  if (auto st = verify(); !st) return Error{"refusing to write: " + st.error().message};
  if (pwrite(mem_fd_, &value, sizeof(value), off_t(addr)) != ssize_t(sizeof(value)))
    return Error{"cannot write to process " + std::to_string(pid_) + ": " + std::strerror(errno)};
  return Ok{};
}

}  // namespace mws::target
