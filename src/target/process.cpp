#include "target/process.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
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

static std::string read_comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

Result<std::vector<Mapping>> read_mappings(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in) return Error{"cannot read /proc/" + std::to_string(pid) + "/maps: " + std::strerror(errno)};
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
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
    if (path_pos > 0 && static_cast<size_t>(path_pos) < line.size()) m.path = line.substr(path_pos);
    out.push_back(std::move(m));
  }
  return out;
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
    if (errno == EACCES || errno == EPERM)
      return Error{"not permitted to inspect process " + std::to_string(pid) + ": run mwscope as root (sudo)"};
    if (errno == ENOENT)
      return Error{"process " + std::to_string(pid) + " has no executable (a kernel thread or a zombie)"};
    return Error{"cannot read " + proc + "/exe: " + std::strerror(errno)};
  }
  buf[n] = '\0';
  info.exe_display = buf;

  // Through the target's root the path names the same file even when the
  // target runs in another mount namespace (a container). If the binary was
  // replaced or deleted since it started, /proc/PID/exe still opens the
  // original inode.
  std::string via_root = proc + "/root" + info.exe_display;
  struct stat a {}, b {};
  if (stat(via_root.c_str(), &a) == 0 && stat((proc + "/exe").c_str(), &b) == 0 && a.st_ino == b.st_ino &&
      a.st_dev == b.st_dev)
    info.exe_path = via_root;
  else
    info.exe_path = proc + "/exe";

  auto maps = read_mappings(pid);
  if (!maps) return maps.error();
  info.mappings = std::move(*maps);
  return info;
}

}  // namespace mws::target
