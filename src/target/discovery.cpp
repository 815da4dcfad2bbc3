#include "target/discovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "target/root_files.h"

namespace mws::target {
namespace {

// What a read of another process's /proc files may cost at most.
constexpr size_t kMaxRegexPath = 1024;  // bytes of an executable path --discover-exe is matched against
constexpr size_t kMaxStatBytes = 4096;        // comm is at most 16 bytes; the rest are numbers
constexpr size_t kMaxCgroupBytes = 64 * 1024;  // one line per hierarchy; a path is bounded by the kernel, not by us
constexpr size_t kMaxFdsExamined = 64 * 1024;  // a listener is opened early; a process with more fds is cut off
constexpr size_t kMaxListenSockets = 1 << 20;  // per network namespace
constexpr size_t kMaxCachedVerdicts = 64 * 1024;

// Up to `max` bytes of a file (a /proc file: no seeking, short reads);
// nullopt when it cannot be opened. `truncated` says whether more was there.
std::optional<std::string> read_bounded(const std::string& path, size_t max, bool* truncated = nullptr) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf;
  while (out.size() < max) {
    const size_t want = std::min(buf.size(), max - out.size());
    const ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  if (truncated) {
    char c;
    *truncated = out.size() >= max && ::read(fd.get(), &c, 1) == 1;
  }
  return out;
}

// Each complete line of a file, read in chunks: memory stays bounded by the
// longest line (cut at 4 KiB; the kernel's /proc/net/tcp lines are ~150 B).
template <typename F>
bool for_each_line(const std::string& path, F&& on_line) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return false;
  std::string pending;
  std::array<char, 64 * 1024> buf;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      const size_t eol = chunk.find('\n');
      if (eol == std::string_view::npos) {
        if (pending.size() < 4096) pending.append(chunk.substr(0, 4096 - pending.size()));
        break;
      }
      if (pending.empty()) {
        on_line(chunk.substr(0, eol));
      } else {
        if (pending.size() < 4096) pending.append(chunk.substr(0, std::min(eol, 4096 - pending.size())));
        on_line(std::string_view(pending));
        pending.clear();
      }
      chunk.remove_prefix(eol + 1);
    }
  }
  if (!pending.empty()) on_line(std::string_view(pending));
  return true;
}

template <typename T>
std::optional<T> parse_number(std::string_view s, int base = 10) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The whitespace-separated fields of a line, at most `max` of them.
size_t split_fields(std::string_view line, std::string_view* out, size_t max) {
  size_t n = 0, pos = 0;
  while (n < max) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) pos++;
    if (pos >= line.size()) break;
    size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') end++;
    out[n++] = line.substr(pos, end - pos);
    pos = end;
  }
  return n;
}

bool is_container_id(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// "docker-<id>.scope", "cri-containerd-<id>.scope", "crio-<id>.scope",
// "libpod-<id>.scope", "libpod-<id>" or a bare "<id>": the id, or "".
std::string_view container_id_of_component(std::string_view c) {
  static constexpr std::string_view kScope = ".scope";
  if (c.size() > kScope.size() && c.substr(c.size() - kScope.size()) == kScope) c.remove_suffix(kScope.size());
  for (std::string_view prefix : {"docker-", "cri-containerd-", "crio-", "libpod-"})
    if (c.size() > prefix.size() && c.substr(0, prefix.size()) == prefix) {
      c.remove_prefix(prefix.size());
      break;
    }
  return is_container_id(c) ? c : std::string_view();
}

// The verdicts "is this executable Go", per file identity.
struct ExeKey {
  dev_t dev;
  ino_t ino;
  int64_t mtime_sec, mtime_nsec;
  bool operator==(const ExeKey&) const = default;
};
struct ExeKeyHash {
  size_t operator()(const ExeKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.dev) * 0x9e3779b97f4a7c15ull;
    h ^= static_cast<uint64_t>(k.ino) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.mtime_sec) + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.mtime_nsec) + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
  }
};
ExeKey key_of(const struct stat& st) {
  return {st.st_dev, st.st_ino, static_cast<int64_t>(st.st_mtim.tv_sec), static_cast<int64_t>(st.st_mtim.tv_nsec)};
}

struct VerdictCache {
  std::mutex mu;
  std::unordered_map<ExeKey, bool, ExeKeyHash> verdicts;
  GoVerdictCacheStats stats;
};
VerdictCache& verdict_cache() {
  static VerdictCache cache;
  return cache;
}

// Whether PID runs a Go executable; nullopt when its executable cannot be
// looked at (a kernel thread, a zombie, a process gone, no permission).
std::optional<bool> runs_go(const std::string& dir, pid_t pid) {
  struct stat st {};
  if (::stat((dir + "/exe").c_str(), &st) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) return false;
  auto& cache = verdict_cache();
  {
    std::lock_guard lock(cache.mu);
    if (auto it = cache.verdicts.find(key_of(st)); it != cache.verdicts.end()) {
      cache.stats.reused++;
      return it->second;
    }
  }
  bool go = false;
  ExeKey key = key_of(st);
  // /proc/PID/exe itself when dir is /proc/PID: the one file the process runs.
  auto elf = dir == "/proc/" + std::to_string(pid) ? ElfFile::open_process_exe(pid) : ElfFile::open(dir + "/exe");
  if (elf) {
    struct stat opened {};
    if (::fstat((*elf)->fd(), &opened) == 0) key = key_of(opened);  // the file judged, if it changed meanwhile
    go = is_go_executable(**elf);
  } else if (::access((dir + "/exe").c_str(), F_OK) != 0) {
    return std::nullopt;  // gone meanwhile: judge nothing
  }  // else not an x86-64 ELF file (a script's interpreter is judged by itself): not Go
  std::lock_guard lock(cache.mu);
  if (cache.verdicts.size() >= kMaxCachedVerdicts) cache.verdicts.clear();
  cache.verdicts[key] = go;
  cache.stats.opened++;
  return go;
}

std::optional<std::string> read_link(const std::string& path) {
  std::array<char, 4097> buf;  // the kernel's paths are at most PATH_MAX (4096)
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0 || static_cast<size_t>(n) >= buf.size()) return std::nullopt;
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::optional<uint64_t> net_namespace(const std::string& dir) {
  struct stat st {};
  if (::stat((dir + "/ns/net").c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

// The LISTEN sockets of the network namespace `dir` (/proc/PID) is in;
// nullopt when its tables cannot be read (the process is gone).
std::optional<std::unordered_set<uint64_t>> listen_inodes(const std::string& dir) {
  std::unordered_set<uint64_t> out;
  auto add = [&](std::string_view line) {
    if (out.size() >= kMaxListenSockets) return;
    for (const auto& s : parse_tcp_listen(line)) out.insert(s.inode);
  };
  const bool v4 = for_each_line(dir + "/net/tcp", add);
  const bool v6 = for_each_line(dir + "/net/tcp6", add);  // absent without IPv6
  if (!v4 && !v6) return std::nullopt;
  return out;
}

bool has_listen_socket(const std::string& dir, const std::unordered_set<uint64_t>& listening) {
  if (listening.empty()) return false;
  UniqueFd fd(::open((dir + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return false;
  DIR* d = ::fdopendir(fd.get());
  if (!d) return false;
  fd.release();  // owned by d now
  bool found = false;
  size_t examined = 0;
  std::array<char, 64> link;  // "socket:[INODE]" is at most 29 bytes
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (++examined > kMaxFdsExamined) break;
    const ssize_t n = ::readlinkat(::dirfd(d), e->d_name, link.data(), link.size());
    if (n <= 0 || static_cast<size_t>(n) >= link.size()) continue;
    auto inode = parse_socket_link(std::string_view(link.data(), static_cast<size_t>(n)));
    if (inode && listening.count(*inode)) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

std::string container_of(const std::string& dir) {
  bool truncated = false;
  auto text = read_bounded(dir + "/cgroup", kMaxCgroupBytes, &truncated);
  if (!text) return "";
  std::string_view t(*text);
  if (truncated) t = t.substr(0, t.rfind('\n') == std::string_view::npos ? 0 : t.rfind('\n') + 1);
  return parse_container_id(t);
}

std::optional<ProcStat> read_proc_stat(const std::string& dir) {
  auto text = read_bounded(dir + "/stat", kMaxStatBytes);
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

bool same_process_in(const std::string& dir, uint64_t start_time) {
  auto st = read_proc_stat(dir);
  return st && st->state != 'Z' && st->state != 'X' && st->start_time == start_time;
}

}  // namespace

Result<std::regex> compile_exe_regex(const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Error{"invalid executable pattern '" + pattern + "': " + e.what()};
  }
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // Fields 3 (state) .. 22 (starttime): 20 fields after the comm.
  std::array<std::string_view, 20> f;
  if (split_fields(rest, f.data(), f.size()) != f.size() || f[0].size() != 1) return std::nullopt;
  auto start = parse_number<uint64_t>(f[19]);
  if (!start) return std::nullopt;
  return ProcStat{f[0][0], *start};
}

std::string parse_container_id(std::string_view text) {
  while (!text.empty()) {
    const size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    // "hierarchy-ID:controllers:path"; the path may hold ':'.
    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view path = line.substr(c2 + 1);
    // Innermost component first (docker in docker: the inner container).
    while (!path.empty()) {
      const size_t slash = path.rfind('/');
      std::string_view comp = slash == std::string_view::npos ? path : path.substr(slash + 1);
      if (auto id = container_id_of_component(comp); !id.empty()) return std::string(id);
      if (slash == std::string_view::npos) break;
      path = path.substr(0, slash);
    }
  }
  return "";
}

std::vector<ListenSocket> parse_tcp_listen(std::string_view text) {
  std::vector<ListenSocket> out;
  while (!text.empty()) {
    const size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    std::array<std::string_view, 10> f;
    if (split_fields(line, f.data(), f.size()) != f.size() || f[3] != "0A") continue;
    const size_t colon = f[1].rfind(':');
    if (colon == std::string_view::npos) continue;
    auto port = parse_number<uint16_t>(f[1].substr(colon + 1), 16);
    auto inode = parse_number<uint64_t>(f[9]);
    if (!port || !inode || *inode == 0) continue;
    out.push_back({*inode, *port});
  }
  return out;
}

std::optional<uint64_t> parse_socket_link(std::string_view link) {
  static constexpr std::string_view kPrefix = "socket:[";
  if (link.size() <= kPrefix.size() + 1 || link.substr(0, kPrefix.size()) != kPrefix || link.back() != ']')
    return std::nullopt;
  return parse_number<uint64_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1));
}

bool same_process(pid_t pid, uint64_t start_time) {
  return pid > 0 && same_process_in("/proc/" + std::to_string(pid), start_time);
}

std::string exe_base_name(std::string_view exe) {
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.ends_with(kDeleted)) exe.remove_suffix(kDeleted.size());
  const size_t slash = exe.rfind('/');
  return std::string(slash == std::string_view::npos ? exe : exe.substr(slash + 1));
}

std::string read_exe_name(pid_t pid) {
  if (pid <= 0) return "";
  auto exe = read_link("/proc/" + std::to_string(pid) + "/exe");
  return exe ? exe_base_name(*exe) : "";
}

std::string read_container_id(pid_t pid) {
  return pid > 0 ? container_of("/proc/" + std::to_string(pid)) : "";
}

GoVerdictCacheStats go_verdict_cache_stats() {
  auto& cache = verdict_cache();
  std::lock_guard lock(cache.mu);
  return cache.stats;
}

std::vector<DiscoveredProcess> discover_go_servers(const DiscoverOptions& opt) {
  struct Candidate {
    DiscoveredProcess p;
    std::string dir;
  };
  std::vector<Candidate> candidates;
  const pid_t self = ::getpid();

  UniqueFd proc_fd(::open(opt.proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc_fd) return {};
  DIR* d = ::fdopendir(proc_fd.get());
  if (!d) return {};
  proc_fd.release();
  while (struct dirent* e = ::readdir(d)) {
    auto pid = parse_number<pid_t>(e->d_name);
    if (!pid || *pid <= 0 || *pid == self) continue;
    const std::string dir = opt.proc + "/" + e->d_name;
    auto st = read_proc_stat(dir);
    if (!st || st->state == 'Z' || st->state == 'X') continue;
    if (opt.skip.count({*pid, st->start_time})) continue;  // the caller knows it already
    auto go = runs_go(dir, *pid);
    if (!go || !*go) continue;
    auto exe = read_link(dir + "/exe");
    if (!exe) continue;
    if (opt.exe_regex) {
      bool match = false;
      try {
        // libstdc++'s matcher recurses per character: a path the target
        // made long could exhaust the stack. Real paths are far shorter.
        match = exe->size() <= kMaxRegexPath && std::regex_search(*exe, *opt.exe_regex);
      } catch (const std::regex_error&) {  // too complex for this path: no match
      }
      if (!match) continue;
    }
    auto ns = net_namespace(dir);
    if (!ns) continue;
    Candidate c;
    c.p.pid = *pid;
    c.p.start_time = st->start_time;
    c.p.exe = std::move(*exe);
    c.p.exe_name = exe_base_name(c.p.exe);
    c.p.net_ns = *ns;
    c.dir = dir;
    candidates.push_back(std::move(c));
  }
  ::closedir(d);

  // Each namespace's tables once, through the first of its processes that
  // is still there to show them.
  std::map<uint64_t, std::unordered_set<uint64_t>> listening;
  for (const auto& c : candidates) {
    if (listening.count(c.p.net_ns)) continue;
    if (auto inodes = listen_inodes(c.dir); inodes && net_namespace(c.dir) == c.p.net_ns)
      listening.emplace(c.p.net_ns, std::move(*inodes));
  }

  std::vector<DiscoveredProcess> out;
  for (auto& c : candidates) {
    auto it = listening.find(c.p.net_ns);
    if (it == listening.end() || !has_listen_socket(c.dir, it->second)) continue;
    c.p.container = container_of(c.dir);
    // Still the process whose start time we read (not a new one under its PID).
    if (!same_process_in(c.dir, c.p.start_time)) continue;
    out.push_back(std::move(c.p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return out;
}

}  // namespace mws::target
