// Finding Go servers (target/discovery.h) without privileges: its parsers
// on the texts the kernel writes (and a hostile process shapes), and the
// whole scan on a fake /proc tree built in a temporary folder, whose
// executables are the real Go and C binaries of this build.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "target/discovery.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"

using namespace mws;
using namespace mws::target;
namespace fs = std::filesystem;

namespace {

const std::string kId = "3f4e2a9b8c7d6e5f40312233445566778899aabbccddeeff0011223344556677";
const std::string kId2 = "0000000000000000000000000000000000000000000000000000000000abcdef";

// A /proc/PID/stat line with `comm` and start time `start` (field 22).
std::string stat_line(int pid, const std::string& comm, uint64_t start, char state = 'S') {
  return std::to_string(pid) + " (" + comm + ") " + state +
         " 1 2 3 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 7 0 " + std::to_string(start) +
         " 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
}

const char* kTcpHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

// A LISTEN row of /proc/net/tcp for 127.0.0.1:port.
std::string tcp_row(int sl, uint16_t port, uint64_t inode, const char* state = "0A") {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%4d: 0100007F:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 %llu 1 "
                "0000000000000000 100 0 0 10 0\n",
                sl, port, state, static_cast<unsigned long long>(inode));
  return buf;
}

std::string tcp6_row(int sl, uint16_t port, uint64_t inode) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%4d: 00000000000000000000000000000000:%04X 00000000000000000000000000000000:0000 0A "
                "00000000:00000000 00:00000000 00000000     0        0 %llu 1 0000000000000000 100 0 0 10 0\n",
                sl, port, static_cast<unsigned long long>(inode));
  return buf;
}

}  // namespace

TEST_CASE("discovery: the start time follows the last ')' of /proc/PID/stat, whatever the comm holds",
          "[discovery]") {
  auto plain = parse_proc_stat(stat_line(42, "server", 987654));
  REQUIRE(plain);
  CHECK(plain->state == 'S');
  CHECK(plain->start_time == 987654);

  // A process names itself: spaces, parentheses, a ") R " that mimics the
  // fields, a newline.
  for (std::string comm : {"a b", "x) (y", ") R 1 2 3", "((", "))", "na\nme", ""}) {
    auto st = parse_proc_stat(stat_line(7, comm, 31337, 'R'));
    INFO(comm);
    REQUIRE(st);
    CHECK(st->state == 'R');
    CHECK(st->start_time == 31337);
  }
  CHECK(parse_proc_stat(stat_line(7, "z", 5, 'Z'))->state == 'Z');

  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("42 (no close paren S 1 2 3"));
  CHECK_FALSE(parse_proc_stat("42 (short) S 1 2 3\n"));                       // cut before field 22
  CHECK_FALSE(parse_proc_stat("42 (x) S 1 2 3 0 -1 4 1 0 0 0 5 6 0 0 20 0 7 0 99999999999999999999999\n"));
  CHECK_FALSE(parse_proc_stat("42 (x) S 1 2 3 0 -1 4 1 0 0 0 5 6 0 0 20 0 7 0 12z\n"));
}

TEST_CASE("discovery: container ids from the cgroup paths of docker, containerd, cri-o, podman and kubernetes",
          "[discovery]") {
  CHECK(parse_container_id("0::/system.slice/docker-" + kId + ".scope\n") == kId);
  CHECK(parse_container_id("0::/docker/" + kId + "\n") == kId);
  CHECK(parse_container_id("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/"
                           "cri-containerd-" + kId + ".scope\n") == kId);
  CHECK(parse_container_id("0::/kubepods/besteffort/pod0b7e6c1c-2c47-4d1b-9a55-3e1f6c1e1a11/" + kId + "\n") == kId);
  CHECK(parse_container_id("0::/machine.slice/libpod-" + kId + ".scope/container\n") == kId);
  CHECK(parse_container_id("0::/libpod_parent/libpod-" + kId + "\n") == kId);
  CHECK(parse_container_id("0::/kubepods.slice/kubepods-pod1.slice/crio-" + kId + ".scope\n") == kId);
  // cgroup v1: one line per hierarchy; the path may hold ':'.
  CHECK(parse_container_id("12:pids:/docker/" + kId + "\n11:memory:/docker/" + kId + "\n") == kId);
  CHECK(parse_container_id("1:name=systemd:/a:b/docker-" + kId + ".scope") == kId);
  // Docker in docker: the innermost container.
  CHECK(parse_container_id("0::/docker/" + kId + "/docker/" + kId2 + "\n") == kId2);

  // Not containers.
  CHECK(parse_container_id("0::/\n").empty());
  CHECK(parse_container_id("0::/user.slice/user-1000.slice/session-2.scope\n").empty());
  CHECK(parse_container_id("0::/system.slice/containerd.service\n").empty());
  CHECK(parse_container_id("4:memory:/process_api/6b5fb8e663f75bad110039314332df84\n").empty());  // 32 hex
  // podman's conmon runs beside the container, not in it.
  CHECK(parse_container_id("0::/machine.slice/libpod-conmon-" + kId + ".scope\n").empty());
  CHECK(parse_container_id("0::/docker/" + kId.substr(0, 63) + "\n").empty());
  CHECK(parse_container_id("0::/docker/" + kId + "0\n").empty());
  std::string upper = kId;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(parse_container_id("0::/docker/" + upper + "\n").empty());
  CHECK(parse_container_id("0::/evil-" + kId + ".scope\n").empty());  // not a runtime's prefix
  CHECK(parse_container_id("garbage without colons\n::\n:\n").empty());
  CHECK(parse_container_id("").empty());
  // A hostile path: bytes that are no text, a NUL, a very long component.
  CHECK(parse_container_id(std::string("0::/\xff\xfe/\0/", 9) + std::string(100000, 'a') + "\n").empty());
  CHECK(parse_container_id(std::string("0::/\xff/docker-") + kId + ".scope\n") == kId);
}

TEST_CASE("discovery: the LISTEN rows of /proc/net/tcp and tcp6 give their inodes and ports", "[discovery]") {
  const std::string tcp = std::string(kTcpHeader) + tcp_row(0, 8080, 1001) + tcp_row(1, 22, 1002) +
                          tcp_row(2, 40000, 1003, "01") /* ESTABLISHED */ + tcp_row(3, 9090, 0) /* no inode */;
  auto rows = parse_tcp_listen(tcp);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].inode == 1001);
  CHECK(rows[0].port == 8080);
  CHECK(rows[1].inode == 1002);
  CHECK(rows[1].port == 22);

  auto rows6 = parse_tcp_listen(std::string(kTcpHeader) + tcp6_row(0, 443, 5555));
  REQUIRE(rows6.size() == 1);
  CHECK(rows6[0].inode == 5555);
  CHECK(rows6[0].port == 443);

  CHECK(parse_tcp_listen("").empty());
  CHECK(parse_tcp_listen(kTcpHeader).empty());
  CHECK(parse_tcp_listen("   0: 0100007F:ZZZZ 00000000:0000 0A 0:0 0:0 0 0 0 77\n").empty());
  CHECK(parse_tcp_listen("   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999999\n").empty());
  CHECK(parse_tcp_listen("   0: 0100007F:1F90 00000000:0000 0A\n").empty());  // cut short
  auto no_newline = parse_tcp_listen("   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 77");
  REQUIRE(no_newline.size() == 1);
  CHECK(no_newline[0].inode == 77);
}

TEST_CASE("discovery: fd links name a socket only as socket:[INODE]", "[discovery]") {
  CHECK(parse_socket_link("socket:[12345]") == 12345u);
  CHECK(parse_socket_link("socket:[18446744073709551615]") == 18446744073709551615ull);
  CHECK_FALSE(parse_socket_link("socket:[18446744073709551616]"));
  CHECK_FALSE(parse_socket_link("socket:[]"));
  CHECK_FALSE(parse_socket_link("socket:[12a]"));
  CHECK_FALSE(parse_socket_link("socket:[12"));
  CHECK_FALSE(parse_socket_link("pipe:[12345]"));
  CHECK_FALSE(parse_socket_link("/tmp/socket:[12345]"));
  CHECK_FALSE(parse_socket_link("anon_inode:[eventpoll]"));
}

TEST_CASE("discovery: a Go executable is told from a C one by its headers", "[discovery]") {
  for (const char* name : {"allocserver", "allocserver_stripped"}) {
    auto elf = ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/" + name);
    REQUIRE(elf);
    INFO(name);
    CHECK(is_go_executable(**elf));
  }
  auto self = ElfFile::open("/proc/self/exe");  // C++, and it holds Go's build-info magic as a string
  REQUIRE(self);
  CHECK_FALSE(is_go_executable(**self));
  auto sh = ElfFile::open("/bin/sh");
  REQUIRE(sh);
  CHECK_FALSE(is_go_executable(**sh));
}

TEST_CASE("discovery: exe patterns are checked before any scan", "[discovery]") {
  CHECK(compile_exe_regex("server$"));
  auto bad = compile_exe_regex("(unclosed");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("(unclosed") != std::string::npos);
}

namespace {

// A fake /proc: each process a folder with stat, exe (a link to a real
// binary), ns/net (a file: its inode is the namespace's), net/tcp{,6},
// fd/ (links that need not resolve) and cgroup.
struct FakeProc {
  fs::path root;
  FakeProc() {
    char tmpl[] = "/tmp/mwscope-fakeproc-XXXXXX";
    root = mkdtemp(tmpl);
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  // A network namespace is a file `ns-NAME` shared by hard links.
  fs::path netns(const std::string& name) {
    fs::path p = root / ("ns-" + name);
    if (!fs::exists(p)) write(p, "");
    return p;
  }
  fs::path add(int pid, const std::string& exe_target, const std::string& ns, const std::string& tcp,
               const std::vector<std::string>& fds, uint64_t start = 1000, const std::string& cgroup = "0::/\n",
               const std::string& comm = "proc", const std::string& tcp6 = kTcpHeader) {
    fs::path dir = root / std::to_string(pid);
    write(dir / "stat", stat_line(pid, comm, start));
    fs::create_directories(dir / "ns");
    fs::create_hard_link(netns(ns), dir / "ns" / "net");
    fs::create_symlink(exe_target, dir / "exe");
    write(dir / "net" / "tcp", tcp);
    write(dir / "net" / "tcp6", tcp6);
    fs::create_directories(dir / "fd");
    for (size_t i = 0; i < fds.size(); i++) fs::create_symlink(fds[i], dir / "fd" / std::to_string(i));
    write(dir / "cgroup", cgroup);
    return dir;
  }
};

const DiscoveredProcess* find(const std::vector<DiscoveredProcess>& v, pid_t pid) {
  for (const auto& p : v)
    if (p.pid == pid) return &p;
  return nullptr;
}

}  // namespace

TEST_CASE("discovery: a scan of a fake /proc finds exactly the Go processes that listen", "[discovery]") {
  const std::string go = std::string(MWS_FIXTURE_DIR) + "/allocserver";
  const std::string go_stripped = std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped";
  FakeProc fp;
  const std::string host_tcp = std::string(kTcpHeader) + tcp_row(0, 8080, 501) + tcp_row(1, 22, 502) +
                               tcp_row(2, 9000, 503, "01");
  const std::string container_tcp = kTcpHeader;  // its listener is IPv6 only
  const std::string container_tcp6 = std::string(kTcpHeader) + tcp6_row(0, 8443, 901);

  fp.add(100, go, "host", host_tcp, {"/dev/null", "pipe:[7]", "socket:[503]", "socket:[501]"}, 4242, "0::/\n",
         "x) (y");                                                                      // Go, listens on 8080
  fp.add(101, go, "host", host_tcp, {"socket:[503]", "/dev/null"});                     // Go, connected only
  fp.add(102, "/bin/sh", "host", host_tcp, {"socket:[502]"});                            // listens, not Go
  fp.add(103, go_stripped, "ctr", container_tcp, {"socket:[901]"}, 77,
         "0::/system.slice/docker-" + kId + ".scope\n", "srv", container_tcp6);         // in a container
  fp.add(104, go, "ctr", container_tcp, {"socket:[501]"}, 1, "0::/\n", "p", container_tcp6);  // 501 is the host's
  fp.add(static_cast<int>(getpid()), go, "host", host_tcp, {"socket:[501]"});            // "mwscope itself"
  fp.write(fp.root / "self" / "stat", "not a pid");
  fp.write(fp.root / "cpuinfo", "");
  // A process gone between the listing and its files: no stat.
  fs::create_directories(fp.root / "105");

  DiscoverOptions opt;
  opt.proc = fp.root.string();
  const auto found = discover_go_servers(opt);

  REQUIRE(found.size() == 2);
  const auto* a = find(found, 100);
  REQUIRE(a);
  CHECK(a->start_time == 4242);
  CHECK(a->exe == go);
  CHECK(a->exe_name == "allocserver");
  CHECK(a->container.empty());
  const auto* c = find(found, 103);
  REQUIRE(c);
  CHECK(c->start_time == 77);
  CHECK(c->exe_name == "allocserver_stripped");
  CHECK(c->container == kId);
  CHECK(a->net_ns != c->net_ns);

  SECTION("exe_regex keeps the processes whose executable path matches") {
    opt.exe_regex = *compile_exe_regex("_stripped$");
    const auto only = discover_go_servers(opt);
    REQUIRE(only.size() == 1);
    CHECK(only[0].pid == 103);
  }

  SECTION("a rescan judges no executable again") {
    const auto before = go_verdict_cache_stats();
    CHECK(discover_go_servers(opt).size() == 2);
    const auto after = go_verdict_cache_stats();
    CHECK(after.opened == before.opened);
    CHECK(after.reused > before.reused);
  }
}

TEST_CASE("discovery: a process's hostile names stay bytes, and its long cgroup file is cut", "[discovery]") {
  const std::string go = std::string(MWS_FIXTURE_DIR) + "/allocserver";
  FakeProc fp;
  // The executable's path as the process sees it: a folder whose name has
  // a newline, an escape sequence and bytes that are no UTF-8.
  const fs::path odd = fp.root / std::string("bin\n\x1b[31m\xff");
  fs::create_directories(odd);
  fs::create_symlink(go, odd / "srv");
  const std::string tcp = std::string(kTcpHeader) + tcp_row(0, 80, 7);
  // 100 KiB of cgroup lines, the container's among the first: kept; and
  // one whose only id lies beyond the read bound: ignored.
  std::string long_cgroup = "0::/docker/" + kId + "\n";
  while (long_cgroup.size() < 100 * 1024) long_cgroup += "1:x:/" + std::string(200, 'p') + "\n";
  std::string late_id(100 * 1024, 'q');
  late_id = "1:x:/" + late_id + "\n0::/docker/" + kId2 + "\n";
  fp.add(200, (odd / "srv").string(), "n", tcp, {"socket:[7]"}, 5, long_cgroup, "\x1b]0;pwned\x07");
  fp.add(201, go, "n", tcp, {"socket:[7]"}, 6, late_id);

  DiscoverOptions opt;
  opt.proc = fp.root.string();
  const auto found = discover_go_servers(opt);
  REQUIRE(found.size() == 2);
  CHECK(found[0].exe == (odd / "srv").string());
  CHECK(found[0].exe_name == "srv");
  CHECK(found[0].container == kId);
  CHECK(found[1].container.empty());
}

TEST_CASE("discovery: same_process tells a live process from a gone one and from a reused PID", "[discovery]") {
  auto self = parse_proc_stat([] {
    std::ifstream in("/proc/self/stat");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }());
  REQUIRE(self);
  CHECK(same_process(getpid(), self->start_time));
  CHECK_FALSE(same_process(getpid(), self->start_time + 1));  // another process under this PID
  CHECK_FALSE(same_process(0, self->start_time));
  CHECK_FALSE(same_process(-1, 0));
  CHECK_FALSE(same_process(2147483647, self->start_time));
}
