#include "harness.h"


#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "model/profile.h"

namespace mws::test {

using namespace std::chrono;

std::string fixture(const std::string& name) { return std::string(MWS_FIXTURE_DIR) + "/" + name; }
std::string mwscope_binary() { return MWS_BINARY; }

Child Child::spawn(const std::vector<std::string>& argv) { return spawn(argv, SpawnOptions{}); }

Child Child::spawn(const std::vector<std::string>& argv, const SpawnOptions& opt) {
  int out[2], err[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (opt.stdin_pipe && pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (opt.stdin_pipe) {
      dup2(in[0], 0);
    } else {
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (opt.stdin_pipe) close(in[0]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  Child c;
  c.pid_ = pid;
  c.out_fd_ = out[0];
  c.err_fd_ = err[0];
  c.in_fd_ = in[1];
  return c;
}

Child::Child(Child&& o) noexcept
    : pid_(o.pid_), out_fd_(o.out_fd_), err_fd_(o.err_fd_), in_fd_(o.in_fd_), out_(std::move(o.out_)),
      err_(std::move(o.err_)), out_scanned_(o.out_scanned_), err_scanned_(o.err_scanned_), reaped_(o.reaped_),
      status_(o.status_) {
  o.pid_ = -1;
  o.out_fd_ = o.err_fd_ = o.in_fd_ = -1;
}

Child::~Child() {
  close_stdin();
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Child::close_stdin() {
  if (in_fd_ >= 0) close(in_fd_);
  in_fd_ = -1;
}

bool Child::write_stdin(const std::string& text) {
  if (in_fd_ < 0) return false;
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = ::write(in_fd_, text.data() + at, text.size() - at);
    if (n <= 0) return false;
    at += size_t(n);
  }
  return true;
}

bool Child::pump(milliseconds timeout) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  int n = ::poll(fds, 2, static_cast<int>(timeout.count()));
  if (n <= 0) return false;
  bool got = false;
  char buf[65536];
  for (int i = 0; i < 2; i++) {
    if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t r;
    while ((r = read(fds[i].fd, buf, sizeof(buf))) > 0) {
      (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(r));
      got = true;
    }
  }
  return got;
}

std::optional<std::string> Child::wait_line(std::string& buf, size_t& scanned, const std::string& needle,
                                            milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n', scanned)) != std::string::npos) {
      std::string line = buf.substr(scanned, nl - scanned);
      scanned = nl + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (!pump(std::min(left, milliseconds(100))) && !running()) {
      pump(milliseconds(0));
      if (buf.find('\n', scanned) == std::string::npos) return std::nullopt;
    }
  }
}

std::optional<std::string> Child::wait_stdout_line(const std::string& needle, milliseconds timeout) {
  return wait_line(out_, out_scanned_, needle, timeout);
}
std::optional<std::string> Child::wait_stderr_line(const std::string& needle, milliseconds timeout) {
  return wait_line(err_, err_scanned_, needle, timeout);
}

void Child::signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool Child::running() {
  if (reaped_) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int Child::wait(milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  while (running()) {
    pump(milliseconds(50));
    if (steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
      reaped_ = true;
      status_ = 128 + SIGKILL;
    }
  }
  while (pump(milliseconds(0))) {
  }
  return status_;
}

CommandResult run(const std::vector<std::string>& argv, milliseconds timeout) {
  Child c = Child::spawn(argv);
  CommandResult r;
  r.status = c.wait(timeout);
  r.out = c.stdout_text();
  r.err = c.stderr_text();
  return r;
}

std::optional<std::string> http_get(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return std::nullopt;
  }
  // Host names the port too, as a browser or curl would (caddy's admin endpoint checks it).
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  close(fd);
  if (resp.rfind("HTTP/1.1 200", 0) != 0) return std::nullopt;
  size_t body = resp.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  std::string head = resp.substr(0, body), rest = resp.substr(body + 4);
  if (head.find("Transfer-Encoding: chunked") == std::string::npos) return rest;
  std::string out;  // de-chunk
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t eol = rest.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t len = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
    if (len == 0) break;
    out += rest.substr(eol + 2, len);
    pos = eol + 2 + len + 2;
  }
  return out;
}

namespace {

int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool iequals_prefix(const std::string& line, const std::string& name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); i++)
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}

}  // namespace

std::optional<HttpConnection> HttpConnection::open(int port) {
  int fd = connect_loopback(port);
  if (fd < 0) return std::nullopt;
  HttpConnection c;
  c.fd_ = fd;
  return std::optional<HttpConnection>(std::move(c));
}

HttpConnection::HttpConnection(HttpConnection&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpConnection::fill() {
  char buf[65536];
  ssize_t n = read(fd_, buf, sizeof(buf));
  if (n <= 0) return false;
  buf_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<HttpConnection::Response> HttpConnection::get(const std::string& path) {
  if (fd_ < 0) return std::nullopt;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
  if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return std::nullopt;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return std::nullopt;
  Response r;
  r.headers = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  if (r.headers.rfind("HTTP/1.1 ", 0) != 0 || r.headers.size() < 12) return std::nullopt;
  r.status = std::atoi(r.headers.c_str() + 9);
  std::optional<size_t> length;
  bool chunked = false;
  std::istringstream lines(r.headers);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (iequals_prefix(line, "content-length:")) length = std::stoul(line.substr(15));
    if (iequals_prefix(line, "transfer-encoding:") && line.find("chunked") != std::string::npos) chunked = true;
  }
  if (chunked) {
    for (;;) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos)
        if (!fill()) return std::nullopt;
      size_t len = std::stoul(buf_.substr(0, eol), nullptr, 16);
      while (buf_.size() < eol + 2 + len + 2)
        if (!fill()) return std::nullopt;
      r.body += buf_.substr(eol + 2, len);
      buf_.erase(0, eol + 2 + len + 2);  // a last chunk of 0 is followed by an empty trailer line
      if (len == 0) break;
    }
  } else if (length) {
    while (buf_.size() < *length)
      if (!fill()) return std::nullopt;
    r.body = buf_.substr(0, *length);
    buf_.erase(0, *length);
  } else if (r.status != 204 && r.status != 304) {
    return std::nullopt;  // body until close: not a keep-alive response
  }
  return r;
}

bool wait_port_open(int port, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  for (;;) {
    int fd = connect_loopback(port);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

Server start_server(const std::string& fixture_name, const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv{fixture(fixture_name)};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  Server s{Child::spawn(argv), 0};
  auto line = s.child.wait_stdout_line("listening on", seconds(20));
  if (!line) throw std::runtime_error(fixture_name + " did not start: " + s.child.stderr_text());
  s.port = std::stoi(line->substr(line->rfind(':') + 1));
  return s;
}

std::vector<BpfProgram> loaded_bpf_programs() {
  std::vector<BpfProgram> progs;
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) progs.push_back({id, info.name});
    close(fd);
  }
  return progs;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const std::string& name) {
  std::string flat = name;  // "go1.27/allocserver.json" -> "go1.27_allocserver.json"
  std::replace(flat.begin(), flat.end(), '/', '_');
  return "/tmp/mwscope-test-" + std::to_string(getpid()) + "-" + flat;
}

nlohmann::json read_profile_json(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(read_file(path));
  const nlohmann::json& frames = j.at("frames");
  auto inline_frames = [&](nlohmann::json& ids) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& id : ids) out.push_back(frames.at(id.get<size_t>()));
    ids = std::move(out);
  };
  for (auto& s : j.at("stacks")) inline_frames(s.at("frames"));
  if (j.contains("tasks"))
    for (auto& g : j.at("tasks").at("groups")) inline_frames(g.at("creation_stack"));
  if (j.contains("c_heap"))
    for (auto& s : j.at("c_heap").at("stacks")) inline_frames(s.at("frames"));
  if (j.contains("goroutines"))
    for (auto& g : j.at("goroutines").at("groups")) {
      inline_frames(g.at("stack"));
      inline_frames(g.at("creation_stack"));
    }
  if (j.contains("threads")) {
    for (auto& g : j.at("threads").at("groups")) {
      inline_frames(g.at("stack"));
      inline_frames(g.at("creation_stack"));
    }
    for (auto& g : j.at("threads").at("created_groups")) inline_frames(g.at("stack"));
  }
  return j;
}

void send_load(int port, const std::string& paths, int n) {
  std::string urls;
  for (size_t at = 0; at < paths.size();) {
    size_t comma = paths.find(',', at);
    if (comma == std::string::npos) comma = paths.size();
    urls += (urls.empty() ? "" : ",") + std::string("http://127.0.0.1:") + std::to_string(port) +
            paths.substr(at, comma - at);
    at = comma + 1;
  }
  auto r = run({fixture("loadgen"), "-url", urls, "-n", std::to_string(n), "-c", "4"}, std::chrono::seconds(300));
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
}

std::map<std::string, RuntimeAllocs> runtime_allocs(int port, int rate) {
  auto body = http_get(port, "/debug/allocs");
  REQUIRE(body);
  const nlohmann::json doc = nlohmann::json::parse(*body);  // keep it alive: items() only views it
  REQUIRE(doc.at("memprofilerate") == rate);
  std::map<std::string, RuntimeAllocs> out;
  for (auto& [fn, c] : doc.at("functions").items())
    out[fn] = {c.at("objects"), c.at("bytes"), c.at("free_objects"), c.at("free_bytes")};
  return out;
}

std::string innermost_main(const nlohmann::json& stack) {
  for (const auto& f : stack.at("frames")) {
    const std::string& fn = f.at("function").get_ref<const std::string&>();
    if (fn.rfind("main.", 0) == 0) return fn;
  }
  return "";
}

const nlohmann::json* group_by_start(const nlohmann::json& profile, const std::string& start) {
  for (const auto& g : profile.at("tasks").at("groups"))
    if (g.at("start_function") == start) return &g;
  return nullptr;
}

uint64_t state_count(const nlohmann::json& group, const std::string& state) {
  for (const auto& s : group.at("states"))
    if (s.at("state") == state) return s.at("count");
  return 0;
}

// The first function of a stack that is not the runtime's, as mwscope's
// sites are defined (model::is_runtime_function); "[running]" for none.
std::string site_of(const std::vector<std::string>& leaf_first) {
  for (const auto& fn : leaf_first)
    if (!mws::is_runtime_function(fn)) return fn;
  return leaf_first.empty() ? "[running]" : leaf_first.front();
}

// /debug/pprof/goroutine?debug=1 as goroutines per site, without the
// goroutines that serve this very dump (its handler, its connection's
// background read). The background read is started just before the
// handler runs and is often not yet scheduled when the dump is taken: then
// its stack is runtime.goexit alone and the dump lists no frame for it.
std::map<std::string, uint64_t> pprof_sites(int admin_port) {
  auto body = http_get(admin_port, "/debug/pprof/goroutine?debug=1");
  REQUIRE(body);
  std::map<std::string, uint64_t> out;
  std::istringstream in(*body);
  std::string line;
  uint64_t count = 0;
  std::vector<std::string> frames;
  auto flush = [&] {
    bool serves_dump = false;
    for (const auto& f : frames)
      serves_dump |= f.rfind("runtime/pprof.", 0) == 0 || f == "net/http.(*connReader).backgroundRead";
    if (count && !serves_dump && !frames.empty()) out[site_of(frames)] += count;
    count = 0;
    frames.clear();
  };
  while (std::getline(in, line)) {
    if (line.find(" @ ") != std::string::npos) {
      flush();
      count = std::stoull(line.substr(0, line.find(' ')));
    } else if (line.rfind("#\t", 0) == 0) {  // "#\t0xPC\tfunction+0xOFF\tfile:line"
      std::istringstream fields(line.substr(2));
      std::string pc, fn;
      fields >> pc >> fn;
      frames.push_back(fn.substr(0, fn.rfind("+0x")));
    }
  }
  flush();
  return out;
}

PprofRaw pprof_raw(const std::string& path) {
  auto r = run({"go", "tool", "pprof", "-raw", path}, seconds(60));
  INFO(r.err);
  REQUIRE(r.status == 0);
  PprofRaw out;
  out.text = r.out;
  std::istringstream in(r.out);
  std::string line;
  bool in_samples = false, header = false, in_locations = false;
  std::map<uint64_t, std::vector<std::string>> functions;  // per location: leaf first, inlined expanded
  std::vector<std::vector<uint64_t>> sample_locations;
  uint64_t location = 0;
  static const std::regex label(R"((\w+):\[([^\]]*)\])");
  while (std::getline(in, line)) {
    if (line == "Samples:") {
      in_samples = header = true;
      continue;
    }
    if (in_locations) {
      if (line.rfind("Mappings", 0) == 0) break;
      // "     1: 0x46e0b6 M=1 runtime.gopark /path/proc.go:364 s=0", then
      // one line per caller it was inlined into: "   runtime.x /path:1 s=0".
      std::istringstream f(line);
      std::string word;
      if (!(f >> word)) continue;
      if (word.size() > 1 && word.back() == ':' &&
          std::all_of(word.begin(), word.end() - 1, [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
        location = std::stoull(word.substr(0, word.size() - 1));
        if (!(f >> word)) continue;
        while (word.rfind("0x", 0) == 0 || word.rfind("M=", 0) == 0)
          if (!(f >> word)) break;
      }
      if (word.rfind("0x", 0) != 0 && word.rfind("M=", 0) != 0 && word.rfind("s=", 0) != 0)
        functions[location].push_back(word);
      continue;
    }
    if (!in_samples) continue;
    if (line.rfind("Locations", 0) == 0) {
      in_locations = true;
      continue;
    }
    if (header) {  // "alloc_objects/count alloc_space/bytes ..."
      std::istringstream types(line);
      for (std::string t; types >> t;) {
        if (t.ends_with("[dflt]")) out.default_type = t = t.substr(0, t.size() - 6);
        out.sample_types.push_back(t);
      }
      header = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (line.find(":[") != std::string::npos) {  // the labels of the sample above
      REQUIRE(!out.samples.empty());
      for (std::sregex_iterator m(line.begin(), line.end(), label), end; m != end; ++m)
        out.samples.back().labels[(*m)[1]] = (*m)[2];
      continue;
    }
    PprofSample s;
    std::istringstream values(line.substr(0, colon));
    for (int64_t v; values >> v;) s.values.push_back(v);
    if (s.values.size() == out.sample_types.size()) {
      out.samples.push_back(std::move(s));
      std::istringstream ids(line.substr(colon + 1));
      sample_locations.emplace_back();
      for (uint64_t id; ids >> id;) sample_locations.back().push_back(id);
    }
  }
  for (size_t i = 0; i < out.samples.size(); i++)
    for (uint64_t id : sample_locations[i])
      for (const auto& fn : functions[id]) out.samples[i].frames.push_back(fn);
  return out;
}

int64_t PprofRaw::sum(const std::string& type, const std::map<std::string, std::string>& where) const {
  const auto at = std::find(sample_types.begin(), sample_types.end(), type);
  REQUIRE(at != sample_types.end());
  const size_t i = at - sample_types.begin();
  int64_t total = 0;
  for (const auto& s : samples) {
    bool match = true;
    for (const auto& [k, v] : where) {
      auto l = s.labels.find(k);
      match &= l != s.labels.end() && l->second == v;
    }
    if (match) total += s.values[i];
  }
  return total;
}

}  // namespace mws::test
