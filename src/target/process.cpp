#include "target/process.h"

#include "target/privileges.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace mws::target {

bool process_exists(pid_t pid) {
  if (pid <= 0) return false;
  struct stat st {};
  return stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0;
}

bool process_running(pid_t pid) {
  if (!process_exists(pid)) return false;
  // /proc/PID/stat: "PID (comm) STATE ..."; comm may hold spaces and ')'.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;  // gone while reading
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

namespace {

// "CapPrm:\t000001ffffffffff" of /proc/PID/status (or "self").
std::optional<uint64_t> permitted_capabilities(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("CapPrm:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  return std::nullopt;
}

// Capabilities the process holds that this one does not ("CAP_SYS_RESOURCE"), or "".
std::string capabilities_lacking(pid_t pid) {
  static constexpr const char* kNames[] = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
      "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  auto theirs = permitted_capabilities(std::to_string(pid)), ours = permitted_capabilities("self");
  if (!theirs || !ours) return "";
  std::string out;
  for (size_t cap = 0; cap < 64; cap++)
    if ((*theirs >> cap & 1) && !(*ours >> cap & 1)) {
      if (!out.empty()) out += ", ";
      out += cap < std::size(kNames) ? kNames[cap] : "capability " + std::to_string(cap);
    }
  return out;
}

}  // namespace

static std::string read_comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

std::optional<int64_t> load_bias(const ProcessInfo& proc, const ElfFile& exe) {
  if (!exe.is_pie()) return 0;
  if (exe.load_segments().empty()) return std::nullopt;
  for (const auto& m : proc.mappings)
    if (m.path == proc.exe_display && m.offset == 0)
      return static_cast<int64_t>(m.start - (exe.load_segments().front().vaddr & ~0xfffull));
  return std::nullopt;
}

std::vector<Mapping> parse_mappings(std::string_view text) {
  std::vector<Mapping> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string line(text.substr(pos, eol - pos));  // NUL-terminated for sscanf
    pos = eol + 1;
    // start-end perms offset dev inode path
    Mapping m;
    char perms[8] = {};
    unsigned long long start = 0, end = 0, off = 0;
    int path_pos = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &path_pos) < 4) continue;
    m.start = start;
    m.end = end;
    m.offset = off;
    m.executable = perms[2] == 'x';
    m.readable = perms[0] == 'r';
    m.writable = perms[1] == 'w';
    if (path_pos > 0 && static_cast<size_t>(path_pos) < line.size()) m.path = line.substr(path_pos);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<Mapping>> read_mappings(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in) return Error{"cannot read /proc/" + std::to_string(pid) + "/maps: " + std::strerror(errno)};
  return parse_mappings(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

Result<ProcessInfo> inspect_process(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  if (!process_exists(pid))
    return Error{"no process with PID " + std::to_string(pid) + " (is it running, and in this PID namespace?)"};
  ProcessInfo info;
  info.pid = pid;
  info.comm = read_comm(pid);

  char buf[4096];
  ssize_t n = readlink((proc + "/exe").c_str(), buf, sizeof(buf) - 1);
  if (n < 0) {
    if (errno == EACCES || errno == EPERM) {
      if (geteuid() != 0)
        return Error{"not permitted to inspect process " + std::to_string(pid) + ": run mwscope as root (sudo)"};
      // Root, and still refused by the kernel's ptrace access check: the
      // target holds capabilities we lack, or lives in another user namespace.
      const int err = errno;
      const std::string lacking = capabilities_lacking(pid);
      const std::string why =
          !has_capability(kCapSysPtrace)
              ? "mwscope lacks CAP_SYS_PTRACE, which reading a process needs when it holds capabilities mwscope "
                "does not" + (lacking.empty() ? std::string() : " (it holds " + lacking + ")")
          : lacking.empty() ? "it is outside mwscope's user namespace"
                            : "it holds " + lacking + ", which mwscope lacks";
      return Error{"not permitted to inspect process " + std::to_string(pid) + " even as root (" + proc +
                   "/exe: " + std::strerror(err) + "): " + why};
    }
    if (errno == ENOENT)
      return Error{"process " + std::to_string(pid) + " has no executable (a kernel thread or a zombie)"};
    return Error{"cannot read " + proc + "/exe: " + std::strerror(errno)};
  }
  buf[n] = '\0';
  info.exe_display = buf;

  // /proc/PID/exe names exactly the file it runs, even in another mount
  // namespace or replaced since; a path through /proc/PID/root would follow
  // the target's own symlinks (ElfFile::open_process_exe opens it once).
  info.exe_path = proc + "/exe";

  auto maps = read_mappings(pid);
  if (!maps) return maps.error();
  info.mappings = std::move(*maps);
  return info;
}

}  // namespace mws::target
