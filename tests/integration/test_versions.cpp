// Real, stripped, statically linked Go servers built by other Go versions:
// esbuild's release binaries from the npm registry (no .symtab, no DWARF, so
// every runtime fact comes from .gopclntab and the Go ABI table in
// src/target/go_abi.cpp). `esbuild --serve` is a plain net/http server.
//
// The truth is by construction: K keep-alive connections opened after attach
// and still open when mwscope stops are exactly K live connection goroutines,
// each parked reading its next request ("IO wait"). esbuild has no pprof
// endpoint, so there is no runtime-side count to compare with.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <set>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.h"
#include "target/gopclntab.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct EsbuildVersion {
  std::string esbuild;  // npm version of @esbuild/linux-x64
  std::string go;       // the Go release it was built with (its .go.buildinfo; the test checks it)
  // g.startpc's function of a connection goroutine: not net/http.(*conn).serve
  // itself. Server.Serve runs `go c.serve(connCtx)`, a go statement with
  // arguments, which the compiler (Go >= 1.18) wraps in a closure of Serve,
  // numbered after Serve's two defer wrappers (`defer l.Close()`,
  // `defer srv.trackListener(&l, false)`). Go 1.22 renamed the wrappers:
  // the .gopclntab of these binaries holds Serve.func1..func3 (go1.19.4,
  // go1.20.4) and Serve.deferwrap1, deferwrap2, gowrap3 (go1.22.4, go1.23.1,
  // go1.26.5). creation_stack[0] is net/http.(*Server).Serve in all.
  std::string conn_start;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The newest Go toolchain on this machine: the version matrix's newest
// (fixtures/go-matrix.txt, "NAME GOROOT" per line) when it was built, else
// the `go` on PATH (the one that builds the fixtures, so always there).
std::string newest_go_tool() {
  std::ifstream in(std::string(MWS_FIXTURE_DIR) + "/go-matrix.txt");
  std::string best, name, goroot;
  std::pair<int, int> best_version{0, 0};
  while (in >> name >> goroot)
    if (auto v = mws::target::parse_go_version(name); v && *v > best_version &&
        std::filesystem::exists(goroot + "/bin/go")) {
      best_version = *v;
      best = goroot + "/bin/go";
    }
  return best.empty() ? "go" : best;
}

// The binary's Go version as the Go toolchain reads it (`go version FILE`,
// from .go.buildinfo). An independent check of the table above: mwscope has
// its own reader. The toolchain must run; a binary it cannot read fails the
// caller's check.
std::string go_tool_version(const std::string& binary) {
  auto r = run({"env", "GOTOOLCHAIN=local", newest_go_tool(), "version", binary}, seconds(30));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto pos = r.out.rfind(": ");
  REQUIRE(pos != std::string::npos);
  return trim(r.out.substr(pos + 2));
}

// Every distinct full Go release string ("go1.26.5") in the binary's bytes:
// the runtime's own runtime.buildVersion, read without any Go reader. The
// independent check for binaries whose .go.buildinfo was removed (esbuild
// 0.28.2), which no `go version` can read.
std::set<std::string> go_release_strings(const std::string& binary) {
  const std::string bytes = read_file(binary);
  std::set<std::string> out;
  auto digits = [&bytes](size_t at) {  // the end of a run of digits starting at `at`
    while (at < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[at]))) at++;
    return at;
  };
  for (size_t at = bytes.find("go1."); at != std::string::npos; at = bytes.find("go1.", at + 1)) {
    const size_t minor_end = digits(at + 4);  // go1.MINOR.PATCH
    if (minor_end == at + 4 || minor_end >= bytes.size() || bytes[minor_end] != '.') continue;
    const size_t patch_end = digits(minor_end + 1);
    if (patch_end == minor_end + 1) continue;
    out.insert(bytes.substr(at, patch_end - at));
  }
  return out;
}

bool has_section(const std::string& binary, const std::string& name) {
  auto r = run({"readelf", "-SW", binary}, seconds(30));
  REQUIRE(r.status == 0);
  return r.out.find(" " + name + " ") != std::string::npos;
}

// Server-side TCP sockets of 127.0.0.1:port in TCP state `st`, as the
// kernel lists them (/proc/net/tcp: "sl local rem st ...", hex ports and
// states): "01" ESTABLISHED, "08" CLOSE_WAIT.
int server_connections(int port, const std::string& state) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st;
    f >> sl >> local >> remote >> st;
    auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    if (std::stoi(local.substr(colon + 1), nullptr, 16) == port && st == state) n++;
  }
  return n;
}

// Connections the peer closed and the server has not yet closed (CLOSE_WAIT).
// (Once the server has called close() they are LAST_ACK, then gone;
// TIME_WAIT ones are the kernel's alone, left by connections the server
// closed first.)
int half_closed_server_connections(int port) { return server_connections(port, "08"); }

// True when no thread of `pid` is running or runnable (/proc/PID/task/*/stat,
// state R): every goroutine is parked.
bool all_threads_asleep(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(t.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'R') return false;
  }
  return !ec;
}

// Bounded wait until the server has no half-closed connection left and is
// idle on two reads in a row.
bool wait_server_settled(pid_t pid, int port, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  int quiet = 0;
  while (steady_clock::now() < deadline) {
    quiet = half_closed_server_connections(port) == 0 && all_threads_asleep(pid) ? quiet + 1 : 0;
    if (quiet >= 2) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// Files served: a small page, a text file and a big file (responses of a few
// hundred KB make net/http and esbuild allocate on every request).
struct ServedDir {
  std::string path;
  std::map<std::string, std::string> files;  // URL path -> content
  explicit ServedDir(const std::string& name) : path(temp_path(name)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    files["/index.html"] = "<!doctype html><title>mwscope</title><p>hello from a stripped Go server</p>\n";
    files["/small.txt"] = std::string(1000, 's');
    std::string big;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < 400 * 1024; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      big.push_back(static_cast<char>('a' + x % 26));
    }
    files["/big.txt"] = big;
    for (const auto& [url, content] : files) std::ofstream(path + url, std::ios::binary) << content;
  }
  ~ServedDir() { std::filesystem::remove_all(path); }
};

// Server-side TCP connections of 127.0.0.1:port in state ESTABLISHED.
int established_server_connections(int port) { return server_connections(port, "01"); }


std::string group_names(const json& profile) {
  std::string out;
  for (const auto& g : profile.at("tasks").at("groups"))
    out += g.at("start_function").get<std::string>() + " live=" + std::to_string(g.at("live").get<uint64_t>()) +
           " spawned=" + std::to_string(g.at("spawned").get<uint64_t>()) + "\n";
  return out;
}

// Exact mode probes runtime.mallocgc. Sampled mode probes the runtime's
// sampler; --go-sample-rate 1 makes it sample every allocation, so a short
// run has samples, and a wrong argument register (mProf_Malloc gained an
// argument in Go 1.23) would show as absurd sizes.
enum class Mode { Exact, Sampled };

void profile_esbuild(const EsbuildVersion& v, Mode mode) {
  const auto t0 = steady_clock::now();
  auto fetched = run({"bash", std::string(MWS_SOURCE_DIR) + "/scripts/fetch-esbuild.sh", v.esbuild,
                      std::string(MWS_BUILD_DIR) + "/esbuild"},
                     seconds(240));
  INFO("fetch-esbuild.sh " << v.esbuild << ": " << fetched.err);
  REQUIRE(fetched.status == 0);
  const std::string binary = trim(fetched.out);
  REQUIRE(std::filesystem::exists(binary));

  // The version esbuild was built with, read without mwscope: the runtime's
  // own version string, and `go version` wherever the binary kept its
  // .go.buildinfo (esbuild 0.28.2 removed it: no toolchain reads that one).
  CHECK(go_release_strings(binary) == std::set<std::string>{v.go});
  if (has_section(binary, ".go.buildinfo")) CHECK(go_tool_version(binary) == v.go);
  else CHECK(v.esbuild == "0.28.2");  // the one binary of the table known without it

  ServedDir dir("esbuild-" + v.esbuild);
  const int port = free_port();
  REQUIRE(port > 0);
  SpawnOptions keep_stdin;
  keep_stdin.stdin_pipe = true;  // esbuild --serve stops when its stdin closes
  Child server = Child::spawn(
      {binary, "--serve=127.0.0.1:" + std::to_string(port), "--servedir=" + dir.path, "--log-level=warning"},
      keep_stdin);
  {
    INFO(server.stderr_text());
    REQUIRE(wait_port_open(port, seconds(20)));
  }
  // One request before attach: the server is fully up. Its connection
  // goroutine ends now, before attach, and so belongs to no group.
  REQUIRE(http_get(port, "/index.html") == dir.files["/index.html"]);
  std::this_thread::sleep_for(milliseconds(200));

  const std::string json_path = temp_path("esbuild-" + v.esbuild + ".json");
  std::vector<std::string> argv{mwscope_binary(), "-p", std::to_string(server.pid()), "--json", json_path,
                                "--leak-age", "0"};
  if (mode == Mode::Exact)
    argv.insert(argv.end(), {"--mode", "exact"});
  else
    argv.insert(argv.end(), {"--mode", "sampled", "--goroutines", "--go-sample-rate", "1"});
  Child mw = Child::spawn(argv);
  auto attached = mw.wait_stderr_line("attached", seconds(30));
  {
    INFO(mw.stderr_text());
    REQUIRE(attached);
  }
  INFO("attached line: " << *attached);
  CHECK(attached->find("goroutine spawn") != std::string::npos);

  // K keep-alive connections opened after attach, several requests on each,
  // every response read in full; all still open when mwscope stops. C more
  // are opened, used and closed while recording: their goroutines must be
  // seen ending (goexit1 before Go 1.22, gdestroy from 1.22 on).
  const int K = 6, C = 3, per_connection = 4;
  const std::vector<std::string> paths = {"/big.txt", "/index.html", "/small.txt", "/big.txt"};
  std::vector<HttpConnection> conns;
  for (int k = 0; k < K; k++) {
    auto c = HttpConnection::open(port);
    REQUIRE(c);
    conns.push_back(std::move(*c));
  }
  for (int r = 0; r < per_connection; r++)
    for (int k = 0; k < K; k++) {
      const std::string& path = paths[(r + k) % paths.size()];
      auto resp = conns[k].get(path);
      INFO("connection " << k << " request " << r << " " << path);
      REQUIRE(resp);
      CHECK(resp->status == 200);
      CHECK(resp->body == dir.files[path]);
    }
  for (int k = 0; k < C; k++) {
    auto c = HttpConnection::open(port);
    REQUIRE(c);
    auto resp = c->get("/small.txt");
    REQUIRE(resp);
    CHECK(resp->status == 200);
    c->close();
  }
  // Wait, on the kernel's word and not for a fixed time, until the server
  // has closed its side of the C connections (none of its sockets is left
  // half-closed: their goroutines have returned from (*conn).serve's
  // deferred close) and it is idle (every thread asleep twice in a row:
  // no goroutine is running, so the K live ones are parked reading again).
  REQUIRE(wait_server_settled(server.pid(), port, seconds(20)));
  // The kernel agrees that the server holds exactly K connections.
  CHECK(established_server_connections(port) == K);

  mw.signal(SIGINT);
  int mw_status = mw.wait(seconds(60));
  INFO("mwscope stderr: " << mw.stderr_text());
  REQUIRE(mw_status == 0);
  for (auto& c : conns) c.close();
  REQUIRE(server.running());

  // After detach the server is unharmed: a fresh connection gets the file.
  CHECK(http_get(port, "/big.txt") == dir.files["/big.txt"]);
  {
    auto c = HttpConnection::open(port);
    REQUIRE(c);
    auto resp = c->get("/small.txt");
    REQUIRE(resp);
    CHECK(resp->status == 200);
    CHECK(resp->body == dir.files["/small.txt"]);
  }
  CHECK(server.running());

  json profile = read_profile_json(json_path);
  std::filesystem::remove(json_path);
  const json& meta = profile.at("meta");
  const json& tasks = profile.at("tasks");
  INFO("meta: " << meta.dump());
  INFO("groups:\n" << group_names(profile));

  CHECK(meta.at("go_version") == v.go);
  CHECK(meta.at("dropped_events") == 0);
  CHECK(meta.at("events").get<uint64_t>() > 0);
  REQUIRE(tasks.at("tracked") == true);
  CHECK(tasks.at("dropped") == 0);

  // Allocation stacks symbolized through net/http with file:line.
  bool through_conn_serve = false;
  uint64_t objects = 0;
  for (const auto& s : profile.at("stacks")) {
    objects += s.at("objects").get<uint64_t>();
    for (const auto& f : s.at("frames")) {
      const std::string file = f.at("file");
      if (f.at("function") == "net/http.(*conn).serve" && file.size() >= 9 &&
          file.compare(file.size() - 9, 9, "server.go") == 0 && f.at("line").get<uint32_t>() > 0)
        through_conn_serve = true;
    }
  }
  CHECK(objects > 0);
  CHECK(through_conn_serve);
  if (mode == Mode::Sampled) {
    CHECK(meta.at("mode") == "sampled");
    CHECK(meta.at("sample_rate") == 1);
    uint64_t samples = 0;
    for (const auto& s : profile.at("stacks")) {
      const uint64_t n = s.at("samples"), bytes = s.at("sample_bytes");
      samples += n;
      INFO("stack " << s.dump());
      if (n > 0) CHECK(bytes / n < (1ull << 30));  // a size, not an address
      CHECK(s.at("objects") == n);                 // rate 1: nothing to scale
    }
    CHECK(samples > 0);
  }

  // The connection goroutines: exactly K, created after attach, alive at
  // stop, each parked reading its next request.
  const json* conn = group_by_start(profile, v.conn_start);
  REQUIRE(conn);
  INFO("connection group: " << conn->dump());
  CHECK(conn->at("live") == K);
  // Idle keep-alive connections wait on I/O: never leaked, however old
  // (--leak-age 0), and not started by a request.
  CHECK(conn->at("leaked") == 0);
  CHECK(conn->at("spawned") == K + C);
  CHECK(conn->at("ended") == C);
  CHECK(state_count(*conn, "IO wait") == uint64_t(K));
  REQUIRE(!conn->at("creation_stack").empty());
  CHECK(conn->at("creation_stack")[0].at("function") == "net/http.(*Server).Serve");
  CHECK(conn->at("creation_stack")[0].at("line").get<uint32_t>() > 0);

  server.close_stdin();
  CHECK(server.wait(seconds(10)) == 0);
  WARN("esbuild " << v.esbuild << " (" << v.go << "): " << meta.at("events").get<uint64_t>() << " events, "
                  << objects << " allocations, " << conn->at("live").get<uint64_t>()
                  << " live connection goroutines, " << tasks.at("groups").size() << " groups, "
                  << duration_cast<milliseconds>(steady_clock::now() - t0).count() << " ms");
}

}  // namespace

TEST_CASE("stripped esbuild 0.16.17 built with go1.19.4", "[bpf][versions]") {
  const EsbuildVersion v{"0.16.17", "go1.19.4", "net/http.(*Server).Serve.func3"};
  SECTION("exact mode") { profile_esbuild(v, Mode::Exact); }
  SECTION("sampled mode") { profile_esbuild(v, Mode::Sampled); }
}

TEST_CASE("stripped esbuild 0.17.19 built with go1.20.4", "[bpf][versions]") {
  const EsbuildVersion v{"0.17.19", "go1.20.4", "net/http.(*Server).Serve.func3"};
  SECTION("exact mode") { profile_esbuild(v, Mode::Exact); }
  SECTION("sampled mode") { profile_esbuild(v, Mode::Sampled); }
}

TEST_CASE("stripped esbuild 0.22.0 built with go1.22.4", "[bpf][versions]") {
  const EsbuildVersion v{"0.22.0", "go1.22.4", "net/http.(*Server).Serve.gowrap3"};
  SECTION("exact mode") { profile_esbuild(v, Mode::Exact); }
  SECTION("sampled mode") { profile_esbuild(v, Mode::Sampled); }
}

TEST_CASE("stripped esbuild 0.24.2 built with go1.23.1", "[bpf][versions]") {
  const EsbuildVersion v{"0.24.2", "go1.23.1", "net/http.(*Server).Serve.gowrap3"};
  SECTION("exact mode") { profile_esbuild(v, Mode::Exact); }
  SECTION("sampled mode") { profile_esbuild(v, Mode::Sampled); }
}

TEST_CASE("stripped esbuild 0.28.2 built with go1.26.5", "[bpf][versions]") {
  const EsbuildVersion v{"0.28.2", "go1.26.5", "net/http.(*Server).Serve.gowrap3"};
  SECTION("exact mode") { profile_esbuild(v, Mode::Exact); }
  SECTION("sampled mode") { profile_esbuild(v, Mode::Sampled); }
}
