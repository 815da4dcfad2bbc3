#include "target/root_files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace mws::target {

namespace {

constexpr int kFileFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
constexpr int kMaxSymlinks = 40;  // the kernel's own limit (ELOOP)

Result<UniqueFd> regular_only(UniqueFd fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Error{"cannot stat " + path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file: refusing to read it"};
  return fd;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

Result<UniqueFd> open_beneath_by_walk(int root_fd, const std::string& path) {
  // The directories walked so far, root first: `..` pops one, never the root.
  std::vector<UniqueFd> dirs;
  dirs.emplace_back(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!dirs.back()) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  std::vector<std::string> todo = split(path);  // components left, in order
  std::reverse(todo.begin(), todo.end());       // back() is the next one
  int links = 0;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (name == ".") continue;
    if (name == "..") {
      if (dirs.size() > 1) dirs.pop_back();
      continue;
    }
    const int dir = dirs.back().get();
    UniqueFd at(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!at) return Error{"cannot open " + path + ": " + std::strerror(errno)};
    struct stat st {};
    if (fstat(at.get(), &st) != 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return Error{"cannot open " + path + ": too many symbolic links"};
      std::vector<char> target(PATH_MAX + 1);
      const ssize_t n = readlinkat(dir, name.c_str(), target.data(), PATH_MAX);
      if (n <= 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
      const std::string link(target.data(), size_t(n));
      if (link.front() == '/') dirs.resize(1);  // absolute: from the target's root
      std::vector<std::string> parts = split(link);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (todo.empty()) {
      if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file: refusing to read it"};
      // Not a symlink (O_NOFOLLOW), the same name in the same directory.
      UniqueFd file(openat(dir, name.c_str(), kFileFlags | O_NOFOLLOW));
      if (!file) return Error{"cannot open " + path + ": " + std::strerror(errno)};
      return regular_only(std::move(file), path);
    }
    if (!S_ISDIR(st.st_mode)) return Error{"cannot open " + path + ": " + std::strerror(ENOTDIR)};
    dirs.emplace_back(openat(dir, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dirs.back()) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  }
  return Error{path + " is not a regular file: refusing to read it"};
}

Result<UniqueFd> open_beneath(int root_fd, const std::string& path) {
  open_how how{};
  how.flags = kFileFlags;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string rel = path.empty() ? "." : path;
  const long fd = syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
  if (fd < 0 && errno == ENOSYS) return open_beneath_by_walk(root_fd, path);
  if (fd < 0) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  return regular_only(UniqueFd(int(fd)), path);
}

Result<UniqueFd> open_in_process_root(pid_t pid, const std::string& path) {
  const std::string root = "/proc/" + std::to_string(pid) + "/root";
  UniqueFd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error{"cannot open " + root + ": " + std::strerror(errno)};
  return open_beneath(dir.get(), path);
}

Result<UniqueFd> open_regular_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), kFileFlags));
  if (!fd) return Error{"cannot open " + path + ": " + std::strerror(errno)};
  return regular_only(std::move(fd), path);
}

}  // namespace mws::target
