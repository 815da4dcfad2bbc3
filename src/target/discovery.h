// Finding the Go HTTP servers of a host (`mwscope serve --discover`): every
// process, in any network namespace (containers count), that listens on a
// TCP port and runs a Go executable.
//
// One scan, cheapest test first:
//  1. /proc/PID/stat: the start time (a PID reused by a new process is a new
//     identity: pid + start_time).
//  2. Is its executable Go? The verdict is cached per executable file
//     (device, inode, mtime): a rescan stats /proc/PID/exe and opens nothing
//     it has judged before. A process that is not Go is left there: its
//     executable's headers are read once, nothing else of it.
//  3. exe_regex, when given, on the executable's path as the process sees it.
//  4. LISTEN sockets: each network namespace's /proc/PID/net/tcp and tcp6
//     are read once, through one of its processes; a Go process listens when
//     one of its /proc/PID/fd links is `socket:[INODE]` of such a socket
//     (the walk stops at the first one, and after 65536 fds).
//  5. The container it runs in, from /proc/PID/cgroup.
//
// Everything a process shows of itself is untrusted: its name, its
// executable's path and its cgroup path are chosen by whoever runs it (a
// hostile target too). Reads are bounded, names are kept as bytes (not
// terminal-safe: util/terminal_text.h before printing them), and a container
// id is only ever 64 lowercase hex digits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mws::target {

struct DiscoverOptions {
  // Keep only the processes whose executable path (as the process sees it,
  // the /proc/PID/exe link) contains a match (std::regex_search; anchor with
  // ^...$ for a whole-path match). Make it with compile_exe_regex.
  std::optional<std::regex> exe_regex;
  // /proc, or another procfs mount (tests).
  std::string proc = "/proc";
  // Processes (pid, start time) the caller holds or gave up on: not
  // judged again (their fds, sockets and cgroup are not read).
  std::set<std::pair<pid_t, uint64_t>> skip;
};

// A pattern for DiscoverOptions::exe_regex (ECMAScript), or why it is not one.
Result<std::regex> compile_exe_regex(const std::string& pattern);

struct DiscoveredProcess {
  pid_t pid = 0;
  // Field 22 of /proc/PID/stat: clock ticks after boot. (pid, start_time)
  // names one process for as long as the host runs.
  uint64_t start_time = 0;
  std::string exe;       // /proc/PID/exe's target, inside the process's mount namespace (bytes;
                         // the kernel appends " (deleted)" when the file was removed or replaced)
  std::string exe_name;  // its last component (exe_base_name)
  std::string container; // 64 lowercase hex digits, or "" (not in a container that we recognise)
  uint64_t net_ns = 0;   // inode of its network namespace
};

// Every Go process of the host that listens on TCP, by PID; mwscope itself
// is never one. Processes that end during the scan, or that mwscope may
// not inspect, are left out.
std::vector<DiscoveredProcess> discover_go_servers(const DiscoverOptions& opt = {});

// Whether the process that had start time `start_time` still runs under
// `pid` (it exists, is not a zombie, and is not a new process under a
// reused PID). One read of /proc/PID/stat.
bool same_process(pid_t pid, uint64_t start_time);
// An executable's last path component, without the " (deleted)" the
// kernel appends to a removed file (DiscoveredProcess::exe_name).
std::string exe_base_name(std::string_view exe);
// That of /proc/PID/exe; "" when it cannot be read.
std::string read_exe_name(pid_t pid);
// The container id of a process (as DiscoveredProcess::container), or "".
std::string read_container_id(pid_t pid);

// How many executables discover_go_servers has opened to judge (cache
// misses) and how many verdicts it reused, since the process started.
struct GoVerdictCacheStats {
  uint64_t opened = 0, reused = 0;
};
GoVerdictCacheStats go_verdict_cache_stats();

// --- the parsers, exposed for tests (the text comes from another process
// or from the kernel; none of them trusts it) ---------------------------

struct ProcStat {
  char state = 0;           // field 3: R, S, D, Z, X...
  uint64_t start_time = 0;  // field 22
};
// A /proc/PID/stat text: "PID (comm) S ...". comm may hold spaces, ')' and
// anything but NUL: the fields follow the last ')'. nullopt if malformed.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// The container id of a /proc/PID/cgroup text, "" when none: the innermost
// path component that is a 64-hex id, bare or as docker-<id>.scope,
// cri-containerd-<id>.scope, crio-<id>.scope or libpod-<id>(.scope), of
// the first line that has one. (The reader drops a line cut short by its
// bound before it calls this.)
std::string parse_container_id(std::string_view cgroup_text);

struct ListenSocket {
  uint64_t inode = 0;
  uint16_t port = 0;
};
// The LISTEN rows (state 0A) of a /proc/net/tcp or tcp6 text; the header
// and rows that do not parse are skipped.
std::vector<ListenSocket> parse_tcp_listen(std::string_view text);

// The inode of a /proc/PID/fd link target "socket:[INODE]"; nullopt otherwise.
std::optional<uint64_t> parse_socket_link(std::string_view link);

}  // namespace mws::target
