// discover_go_servers on the real /proc (root: it reads other processes'
// fds): a Go fixture server is found with its own PID, start time and
// executable; a listener that is not Go is not; a Go server in a network
// namespace of its own is found through that namespace's table; and a
// server in a cgroup named as docker names its containers gets that id.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../skip.h"
#include "harness.h"
#include "target/discovery.h"

using namespace mws;
using namespace mws::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

// Field 22 of /proc/PID/stat, read here without the parser under test.
uint64_t start_time_of(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  for (int field = 3; field <= 22 && fields >> f; field++) {
  }
  return std::stoull(f);
}

uint64_t net_ns_of(pid_t pid) {
  struct stat st {};
  REQUIRE(stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &st) == 0);
  return st.st_ino;
}

const target::DiscoveredProcess* find(const std::vector<target::DiscoveredProcess>& v, pid_t pid) {
  for (const auto& p : v)
    if (p.pid == pid) return &p;
  return nullptr;
}

// A listener that is not Go: python binds, listens, then says so.
Child start_python_listener() {
  Child c = Child::spawn({"python3", "-u", "-c",
                          "import socket, time\n"
                          "s = socket.socket(socket.AF_INET6)\n"
                          "s.bind(('::1', 0)); s.listen()\n"
                          "print('listening on [::1]:%d' % s.getsockname()[1], flush=True)\n"
                          "time.sleep(600)\n"});
  auto line = c.wait_stdout_line("listening on", seconds(30));
  INFO(c.stderr_text());
  REQUIRE(line);
  return c;
}

// Where cgroup v2 is mounted (/sys/fs/cgroup, or .../unified on a hybrid host).
std::string cgroup2_mount() {
  std::istringstream mounts(read_file("/proc/self/mounts"));
  for (std::string dev, dir, type, rest; mounts >> dev >> dir >> type && std::getline(mounts, rest);)
    if (type == "cgroup2") return dir;
  return "";
}

}  // namespace

TEST_CASE("discovery: a Go server is found with its PID, start time and executable, and a non-Go listener is not",
          "[discovery][bpf]") {
  if (geteuid() != 0) MWS_SKIP("reading other processes' fds needs root");
  Server go = start_server("allocserver");
  Child py = start_python_listener();
  const pid_t go_pid = go.child.pid(), py_pid = py.pid();

  const auto found = target::discover_go_servers();
  INFO("found " << found.size() << " processes");
  const auto* g = find(found, go_pid);
  REQUIRE(g);
  CHECK(g->start_time == start_time_of(go_pid));
  CHECK(fs::path(g->exe) == fs::canonical(fixture("allocserver")));
  CHECK(g->exe_name == "allocserver");
  CHECK(g->net_ns == net_ns_of(getpid()));
  CHECK(g->container.empty());  // the test runs in no container that we know of
  CHECK_FALSE(find(found, py_pid));
  CHECK_FALSE(find(found, getpid()));
  CHECK(target::same_process(go_pid, g->start_time));

  SECTION("exe_regex") {
    target::DiscoverOptions opt;
    opt.exe_regex = *target::compile_exe_regex("/allocserver$");
    const auto only = target::discover_go_servers(opt);
    REQUIRE(find(only, go_pid));
    for (const auto& p : only) CHECK(p.exe_name == "allocserver");
    opt.exe_regex = *target::compile_exe_regex("^/nonexistent/");
    CHECK(target::discover_go_servers(opt).empty());
  }

  SECTION("a stopped server still listens, so it is found; a killed one is not") {
    Server other = start_server("allocserver");
    other.child.signal(SIGSTOP);
    CHECK(find(target::discover_go_servers(), other.child.pid()));
    other.child.signal(SIGKILL);
    other.child.wait(seconds(10));
    CHECK_FALSE(find(target::discover_go_servers(), other.child.pid()));
  }

  SECTION("once it ends, the identity is gone") {
    const uint64_t start = g->start_time;
    go.child.signal(SIGKILL);
    go.child.wait(seconds(10));
    CHECK_FALSE(target::same_process(go_pid, start));
    CHECK_FALSE(find(target::discover_go_servers(), go_pid));
  }
}

TEST_CASE("discovery: a Go server in its own network namespace is found through that namespace's table",
          "[discovery][bpf]") {
  if (geteuid() != 0) MWS_SKIP("unshare --net and reading other processes' fds need root");
  // unshare and sh exec into the fixture: one PID throughout.
  Child c = Child::spawn({"unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$0\" -addr 127.0.0.1:0",
                          fixture("allocserver")});
  auto line = c.wait_stdout_line("listening on", seconds(20));
  INFO(c.stderr_text());
  REQUIRE(line);
  REQUIRE(net_ns_of(c.pid()) != net_ns_of(getpid()));

  const auto found = target::discover_go_servers();
  const auto* g = find(found, c.pid());
  REQUIRE(g);
  CHECK(g->net_ns == net_ns_of(c.pid()));
  CHECK(g->start_time == start_time_of(c.pid()));
  CHECK(g->exe_name == "allocserver");
}

TEST_CASE("discovery: a server in a cgroup named as docker names its containers carries that container id",
          "[discovery][bpf]") {
  if (geteuid() != 0) MWS_SKIP("creating a cgroup needs root");
  const std::string mount = cgroup2_mount();
  if (mount.empty()) MWS_SKIP("no cgroup v2 mount");
  char id[65];
  std::snprintf(id, sizeof id, "%016llx%048x", static_cast<unsigned long long>(getpid()) * 0x9e3779b97f4a7c15ull, 0xd15c);
  const std::string dir = mount + "/docker-" + id + ".scope";
  std::error_code ec;
  if (!fs::create_directory(dir, ec)) MWS_SKIP("cannot create " << dir << ": " << ec.message());
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      // Empty once its process is reaped; the kernel may take a moment.
      for (int i = 0; i < 100 && rmdir(dir.c_str()) != 0; i++) std::this_thread::sleep_for(milliseconds(50));
    }
  } cleanup{dir};
  {
    // It moves itself into the cgroup, then becomes the server.
    Child c = Child::spawn({"sh", "-c", "echo $$ > \"$1/cgroup.procs\" && exec \"$0\" -addr 127.0.0.1:0",
                            fixture("allocserver"), dir});
    REQUIRE(c.wait_stdout_line("listening on", seconds(20)));
    const auto found = target::discover_go_servers();
    const auto* g = find(found, c.pid());
    REQUIRE(g);
    CHECK(g->container == id);
  }  // killed and reaped here
}
