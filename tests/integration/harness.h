// Helpers for BPF tests: run real processes, wait for the lines they print,
// talk HTTP to fixtures on loopback. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mws::test {

std::string fixture(const std::string& name);  // path of a built Go fixture
std::string mwscope_binary();

struct SpawnOptions {
  // Give the child a pipe as stdin, kept open by the parent until
  // close_stdin() or destruction (e.g. `esbuild --serve` stops when its stdin
  // closes). Default: /dev/null.
  bool stdin_pipe = false;
};

// A child process with stdout and stderr captured. Killed (SIGKILL) and
// reaped on destruction unless already waited for.
class Child {
 public:
  static Child spawn(const std::vector<std::string>& argv);
  static Child spawn(const std::vector<std::string>& argv, const SpawnOptions& opt);
  Child(Child&&) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // Reads until a line of stdout (or stderr) contains `needle`; returns it.
  std::optional<std::string> wait_stdout_line(const std::string& needle, std::chrono::milliseconds timeout);
  std::optional<std::string> wait_stderr_line(const std::string& needle, std::chrono::milliseconds timeout);
  void signal(int sig);
  // Waits for exit (SIGKILL after timeout); returns the exit status
  // (128+signal when killed) and collects the rest of the output.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }
  void close_stdin();  // no-op unless spawned with stdin_pipe
  bool write_stdin(const std::string& text);  // false unless spawned with stdin_pipe

 private:
  Child() = default;
  bool pump(std::chrono::milliseconds timeout);  // reads what is available
  std::optional<std::string> wait_line(std::string& buf, size_t& scanned, const std::string& needle,
                                       std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1, in_fd_ = -1;
  std::string out_, err_;
  size_t out_scanned_ = 0, err_scanned_ = 0;
  bool reaped_ = false;
  int status_ = 0;
};

struct CommandResult {
  int status = -1;
  std::string out, err;
};
CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// HTTP/1.1 GET on 127.0.0.1:port; returns the body, or nullopt on any error.
std::optional<std::string> http_get(int port, const std::string& path);

// An HTTP/1.1 keep-alive connection to 127.0.0.1:port: several requests on
// one TCP connection (one server-side connection goroutine in net/http).
// Every read is bounded by a 30 s socket timeout.
class HttpConnection {
 public:
  static std::optional<HttpConnection> open(int port);
  HttpConnection(HttpConnection&&) noexcept;
  HttpConnection& operator=(HttpConnection&&) = delete;
  HttpConnection(const HttpConnection&) = delete;
  ~HttpConnection();

  struct Response {
    int status = 0;
    std::string headers;  // the status line and header lines
    std::string body;     // de-chunked
  };
  // GET path with keep-alive; reads exactly one full response (Content-Length
  // or chunked). nullopt on any error.
  std::optional<Response> get(const std::string& path);
  void close();

 private:
  HttpConnection() = default;
  bool fill();  // appends what the socket has to buf_; false on EOF/error
  int fd_ = -1;
  std::string buf_;
};

// True once a TCP connect to 127.0.0.1:port succeeds (bounded wait).
bool wait_port_open(int port, std::chrono::milliseconds timeout);

// Starts a Go fixture server and returns it with its port (parsed from its
// "listening on 127.0.0.1:PORT" line).
struct Server {
  Child child;
  int port = 0;
};
Server start_server(const std::string& fixture_name, const std::vector<std::string>& extra_args = {});

// Loaded BPF programs (to check that nothing of ours stays loaded).
struct BpfProgram {
  uint32_t id = 0;  // ids only grow, so "loaded after X" is id > X
  std::string name;
};
std::vector<BpfProgram> loaded_bpf_programs();

std::string read_file(const std::string& path);
// A profile written by --json, as JSON with every frame index replaced by
// its frame object (stacks[i].frames, tasks.groups[i].creation_stack,
// c_heap.stacks[i].frames), so
// tests read frames where they are used.
nlohmann::json read_profile_json(const std::string& path);
// The goroutine group of such a profile with this start function; nullptr if none.
const nlohmann::json* group_by_start(const nlohmann::json& profile, const std::string& start);
// How many of a group's live goroutines wait in `state` ("chan receive").
uint64_t state_count(const nlohmann::json& group, const std::string& state);
std::string temp_path(const std::string& name);

// n requests with loadgen on 4 connections, spread over `paths`
// ("/work,/health"); requires every one to succeed.
void send_load(int port, const std::string& paths, int n);

// allocserver's /debug/allocs: runtime.MemProfile (after two GCs) per
// innermost main.* function, cumulative since the process started.
// Requires the runtime's MemProfileRate to be `rate`.
struct RuntimeAllocs {
  int64_t objects = 0, bytes = 0, free_objects = 0, free_bytes = 0;
  int64_t inuse_objects() const { return objects - free_objects; }
  int64_t inuse_bytes() const { return bytes - free_bytes; }
};
std::map<std::string, RuntimeAllocs> runtime_allocs(int port, int rate);
// The innermost main.* function of a profile stack (frames as
// read_profile_json gives them), "" if none: how the fixtures' truth keys
// its counts.
std::string innermost_main(const nlohmann::json& stack);

// A pprof file as `go tool pprof -raw` prints it (Debian's Go reads it, not
// mwscope): each sample's values, in the order of sample_types, and labels.
struct PprofSample {
  std::vector<int64_t> values;
  std::map<std::string, std::string> labels;
  std::vector<std::string> frames;  // its stack's functions, leaf first, inlined frames expanded
};
struct PprofRaw {
  std::vector<std::string> sample_types;  // "alloc_objects/count"
  std::string default_type;               // the one pprof shows first, when the file names one
  std::vector<PprofSample> samples;
  std::string text;  // the whole -raw output, for INFO
  // Sum of value `type` over the samples whose labels include all of `where`.
  int64_t sum(const std::string& type, const std::map<std::string, std::string>& where = {}) const;
};
PprofRaw pprof_raw(const std::string& path);

// The first function of a leaf-first stack that is not the runtime's, as
// mwscope's goroutine sites are defined (model::is_runtime_function);
// "[running]" for none.
std::string site_of(const std::vector<std::string>& leaf_first);
// The runtime's own goroutine profile (/debug/pprof/goroutine?debug=1 on
// 127.0.0.1:port) as goroutines per site, without the goroutines that serve
// this very dump.
std::map<std::string, uint64_t> pprof_sites(int port);

}  // namespace mws::test
