// Opening the target's files (its libraries, its executable) as root
// without letting the target choose a file of the host. The target owns
// its root: any path component there may be a symlink (absolute, or `..`
// up and out), a FIFO (open() would block forever) or a device. So every
// file of the target is opened here, beneath the target's root: symlinks
// resolve inside it and `..` stops at it (openat2 with RESOLVE_IN_ROOT; on
// a kernel without openat2, the same walk one component at a time),
// non-blocking, close-on-exec, and only a regular file is returned.
#pragma once

#include <sys/types.h>

#include <string>

#include "util/result.h"

namespace mws::target {

// An open file descriptor, closed when it goes out of scope.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// `path` (absolute or relative, as the target sees it) beneath the
// directory `root_fd`, read-only. Fails, naming `path`, for a path that
// does not exist there, that is not a regular file, or that loops.
Result<UniqueFd> open_beneath(int root_fd, const std::string& path);
// The same beneath /proc/PID/root, the process's own root directory.
Result<UniqueFd> open_in_process_root(pid_t pid, const std::string& path);
// The component walk alone (what open_beneath does when the kernel has no
// openat2); exposed so that the tests run it on any kernel.
Result<UniqueFd> open_beneath_by_walk(int root_fd, const std::string& path);
// A regular file opened read-only, non-blocking, close-on-exec; a FIFO, a
// device or a directory is refused. For paths that are not the target's
// (mwscope's own inputs) and for /proc/PID/exe, which names one file.
Result<UniqueFd> open_regular_file(const std::string& path);

}  // namespace mws::target
