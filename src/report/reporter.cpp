#include "report/reporter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ostream>
#include <streambuf>
#include <system_error>

#include <fmt/format.h>


namespace mws {

namespace {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error io_error(const std::string& verb, const std::string& path, std::string_view step, int err) {
  if (step.empty()) return Error{fmt::format("cannot {} {}: {}", verb, path, errno_text(err))};
  return Error{fmt::format("cannot {} {}: {}: {}", verb, path, step, errno_text(err))};
}

// Closes fd and removes the temporary file unless released.
struct TempFile {
  int fd = -1;
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A directory part of `path` that is a symlink planted by another user in a
// sticky, world-writable directory (/tmp/out -> /etc) makes mwscope, as
// root, write where that user chose: the kernel's protected_symlinks rule
// (follow only a link owned by the follower or by the directory's owner),
// applied whatever the sysctl says.
Status check_directory_symlinks(const std::string& path) {
  const std::string dir = directory_of(path);
  for (size_t end = dir.find('/', 1); ; end = dir.find('/', end + 1)) {
    const std::string prefix = dir.substr(0, end);
    struct stat link {}, parent {};
    if (::lstat(prefix.c_str(), &link) == 0 && S_ISLNK(link.st_mode) &&
        ::stat(directory_of(prefix).c_str(), &parent) == 0 && (parent.st_mode & S_ISVTX) &&
        (parent.st_mode & S_IWOTH) && link.st_uid != ::geteuid() && link.st_uid != parent.st_uid)
      return Error{fmt::format("cannot write {}: {} is a symlink owned by another user (uid {}) in the "
                               "world-writable directory {}; give a path without it",
                               path, prefix, link.st_uid, directory_of(prefix))};
    if (end == std::string::npos) break;
  }
  return Ok{};
}

// Creates PATH.tmp.PID.N beside path, so that a rename puts it in place.
Status create_temp_beside(const std::string& path, TempFile& tmp) {
  if (path.empty()) return Error{"cannot write a file with an empty path"};
  if (auto st = check_directory_symlinks(path); !st) return st;
  // An existing path must be a regular file: the rename would replace a
  // device node (/dev/null) or fail on a directory only at the end.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Error{fmt::format("cannot write {}: it is {}; give the path of a regular file", path,
                             S_ISDIR(st.st_mode) ? "a directory" : "not a regular file")};
  }
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string candidate = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    // O_EXCL: never follow or reuse someone else's file. Mode 0600, as perf
    // record creates perf.data: a profile shows another process's code and
    // data, read as root; its reader widens it if they want to.
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      tmp.fd = fd;
      tmp.path = std::move(candidate);
      return Ok{};
    }
    if (errno != EEXIST) {
      return io_error("write", path, fmt::format("cannot create a file in {}", directory_of(path)), errno);
    }
  }
  return io_error("write", path, "create temporary file", EEXIST);
}

}  // namespace

Status check_writable(const std::string& path) {
  TempFile probe;  // removed on return
  return create_temp_beside(path, probe);
}

namespace {

// A stream buffer that writes to a file descriptor in 64 KiB blocks and
// remembers the first error: after it, writes are dropped (the stream goes
// bad) and the caller reports the errno.
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return error_; }
  bool flush_all() { return flush_buffer() && error_ == 0; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool flush_buffer() {
    const char* p = pbase();
    while (error_ == 0 && p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        break;
      }
      p += n;
    }
    setp(buf_, buf_ + sizeof buf_);
    return error_ == 0;
  }
  int fd_;
  int error_ = 0;
  char buf_[1 << 16];
};

// Makes tmp durable and renames it over path.
Status commit(const std::string& path, TempFile& tmp) {
  if (::fsync(tmp.fd) != 0) return io_error("write", path, "fsync", errno);
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) return io_error("write", path, "close", errno);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) {
    return io_error("write", path, "rename into place", errno);
  }
  tmp.keep = true;

  // Make the rename itself durable; best effort (some filesystems refuse).
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return Ok{};
}

}  // namespace

Status write_file(const std::string& path, const std::function<void(std::ostream&)>& produce) {
  TempFile tmp;
  if (auto st = create_temp_beside(path, tmp); !st) return st;
  {
    FdStreamBuf buf(tmp.fd);
    std::ostream out(&buf);
    produce(out);
    if (!buf.flush_all()) return io_error("write", path, "write", buf.error());
  }
  return commit(path, tmp);
}

Result<std::string> write_new_file(const std::string& dir, const std::string& stem, const std::string& ext,
                                   std::string_view bytes) {
  const std::string first = dir + "/" + stem + ext;
  TempFile tmp;
  if (auto st = create_temp_beside(first, tmp); !st) return st.error();
  {
    FdStreamBuf buf(tmp.fd);
    std::ostream out(&buf);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!buf.flush_all()) return io_error("write", first, "write", buf.error());
  }
  if (::fsync(tmp.fd) != 0) return io_error("write", first, "fsync", errno);
  // link() fails with EEXIST instead of replacing: the first free name wins,
  // even against another writer racing for it. The temporary is removed.
  for (int n = 1; n <= 1000; n++) {
    const std::string path = n == 1 ? first : fmt::format("{}/{}-{}{}", dir, stem, n, ext);
    if (::link(tmp.path.c_str(), path.c_str()) == 0) return path;
    if (errno != EEXIST) return io_error("write", path, "link into place", errno);
  }
  return io_error("write", first, "find a free name", EEXIST);
}

Status write_file(const std::string& path, std::string_view bytes) {
  return write_file(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block the open
  if (fd < 0) return io_error("read", path, "", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error("read", path, "stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a pipe" :
                       S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISSOCK(st.st_mode) ? "a socket" : "not a file";
    return Error{fmt::format("cannot read {}: it is {}, not a regular file; give a profile written by mwscope --json",
                             path, kind)};
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Error{fmt::format("cannot read {}: {} MiB is more than the {} MiB a profile may have", path,
                             static_cast<uint64_t>(st.st_size) >> 20, max_bytes >> 20)};
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error("read", path, "", err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // grew while we read it
      ::close(fd);
      return Error{fmt::format("cannot read {}: more than the {} MiB a profile may have", path, max_bytes >> 20)};
    }
  }
  ::close(fd);
  return out;
}

}  // namespace mws
