#include "target/os_threads.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mws::target {
namespace {

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<std::vector<OsThread>> list_os_threads(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return Error{"cannot list " + dir + " (has the process exited?)"};
  std::vector<OsThread> out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const unsigned long tid = std::strtoul(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    const std::string base = dir + "/" + e->d_name;
    OsThread t;
    t.tid = static_cast<uint32_t>(tid);
    // stat: "TID (comm) S ...": the state follows the last ')', as comm may hold one.
    const std::string stat = read_line(base + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;  // exited meanwhile
    t.state = stat[close + 2];
    t.comm = read_line(base + "/comm");
    t.wchan = read_line(base + "/wchan");
    if (t.wchan == "0") t.wchan.clear();
    const std::string sc = read_line(base + "/syscall");
    if (sc.rfind("running", 0) == 0)
      t.syscall = -1;
    else if (!sc.empty())
      t.syscall = std::strtoll(sc.c_str(), nullptr, 10);
    out.push_back(std::move(t));
  }
  closedir(d);
  return out;
}

std::string syscall_name(int64_t nr) {
  switch (nr) {
    case 0: return "read";
    case 1: return "write";
    case 7: return "poll";
    case 23: return "select";
    case 34: return "pause";
    case 35: return "nanosleep";
    case 43: return "accept";
    case 45: return "recvfrom";
    case 61: return "wait4";
    case 202: return "futex";
    case 230: return "clock_nanosleep";
    case 232: return "epoll_wait";
    case 270: return "pselect6";
    case 271: return "ppoll";
    case 281: return "epoll_pwait";
    case 288: return "accept4";
    default: return "syscall " + std::to_string(nr);
  }
}

}  // namespace mws::target
