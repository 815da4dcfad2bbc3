// A hostile target cannot harm the host (issue 26): everything read from
// the target (its DWARF, its runtime's lists and arrays) is untrusted
// input. Each case here is an attack that worked on the code before it.
// Target memory is laid out in this process and read back through
// process_vm_readv, as the goroutine and heap readers read a real target.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "report/reporter.h"
#include "report/text_format.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "target/go_goroutines.h"
#include "target/go_heap_profile.h"
#include "target/go_threads.h"
#include "target/gopclntab.h"
#include "target/remote_memory.h"
#include "target/root_files.h"
#include "target/walk_limits.h"
#include "util/terminal_text.h"
#include "../skip.h"

using namespace mws;

namespace {

// --- DWARF -----------------------------------------------------------------

// The hostiledwarf fixture with its runtimeXg / runtimeXm structs renamed
// runtime.g / runtime.m, in a temporary copy.
std::string renamed_hostile_dwarf() {
  std::ifstream in(std::string(MWS_FIXTURE_DIR) + "/hostiledwarf", std::ios::binary);
  REQUIRE(in);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int renamed = 0;
  for (const char* from : {"runtimeXg", "runtimeXm"})
    for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1)) {
      bytes[at + 7] = '.';
      renamed++;
    }
  REQUIRE(renamed >= 2);
  const std::string path = std::filesystem::temp_directory_path() / ("mws-hostiledwarf-" + std::to_string(getpid()));
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// --- goroutines --------------------------------------------------------------

// Goroutines as the runtime lays them out, in this process: a g of 512
// bytes per goroutine (go1.21's offsets), and allgs, a slice of pointers.
struct FakeGoroutines {
  target::GoRuntimeOffsets off = *target::go_offsets_from_table("go1.21.0");
  std::deque<std::vector<uint8_t>> gs;
  std::vector<uint64_t> allgs;
  struct {
    uint64_t ptr, len, cap;
  } header{};
  uint64_t add(uint64_t goid) {
    gs.emplace_back(512, 0);
    uint8_t* g = gs.back().data();
    const uint32_t waiting = target::kGoStatusWaiting;
    std::memcpy(g + off.g_atomicstatus, &waiting, 4);
    std::memcpy(g + off.g_goid, &goid, 8);
    return reinterpret_cast<uint64_t>(g);
  }
  uint64_t addr() {
    header = {reinterpret_cast<uint64_t>(allgs.data()), allgs.size(), allgs.size()};
    return reinterpret_cast<uint64_t>(&header);
  }
};

// --- heap buckets ------------------------------------------------------------

// A bucket in go1.21's layout: header {next, allnext, typ, hash, size, nstk},
// nstk PCs, memRecord {active, future[3]} of 4 words each.
struct FakeBucket {
  std::vector<uint64_t> words;
  explicit FakeBucket(uint64_t typ = 1, uint64_t nstk = 2) {
    words = {0, 0, typ, 0xfeed, 64, nstk};
    for (uint64_t i = 0; i < nstk; i++) words.push_back(0x401000 + i);
    for (int c = 0; c < 4; c++) words.insert(words.end(), {c == 0 ? 5u : 0u, 0, 0, 0});
  }
  uint64_t addr() const { return reinterpret_cast<uint64_t>(words.data()); }
  void link(uint64_t next) { words[1] = next; }
};

struct FakeProfile {
  uint64_t head = 0;
  uint32_t cycle = 3 << 1;
  int64_t rate = 1;
  target::HeapProfileAddresses at() const {
    return {reinterpret_cast<uint64_t>(&head), reinterpret_cast<uint64_t>(&cycle), reinterpret_cast<uint64_t>(&rate)};
  }
};

target::GoFunctionFacts facts121() { return *target::go_function_facts("go1.21.0"); }

}  // namespace

TEST_CASE("hostile target: DWARF offsets beyond any Go runtime struct are refused", "[hostile]") {
  const std::string path = renamed_hostile_dwarf();
  auto elf = target::ElfFile::open(path);
  REQUIRE(elf);
  auto dwarf = target::go_offsets_from_dwarf(**elf);
  REQUIRE_FALSE(dwarf);
  CHECK_THAT(dwarf.error().message, Catch::Contains("runtime.g.goid") && Catch::Contains("4096"));
  auto m = target::go_member_offset_from_dwarf(**elf, "runtime.m", "procid");
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message, Catch::Contains("beyond"));
  // The table of its version still serves.
  auto offsets = target::go_runtime_offsets(**elf, "go1.21.0");
  REQUIRE(offsets);
  CHECK(offsets->source == "table go1.21");
  std::filesystem::remove(path);
}

TEST_CASE("hostile target: offsets out of bounds never size the goroutine reader's buffers", "[hostile]") {
  FakeGoroutines f;
  f.allgs = {f.add(1)};
  // 1024 * (2^54 + 8) wraps to 8 KiB: the old reader then copied 2^54
  // bytes of the target into it.
  for (int64_t bad : {int64_t(1) << 54, int64_t(1) << 20, int64_t(4096), int64_t(-5)}) {
    INFO(bad);
    target::GoRuntimeOffsets off = f.off;
    off.g_goid = bad;
    auto r = target::read_live_goroutines(target::RemoteMemory(getpid()), f.addr(), off, true);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("runtime.g.goid"));
  }
  target::GoRuntimeOffsets off = f.off;
  CHECK(target::check_go_offsets(off));
  off.g_sched_bp = target::kMaxGoStructOffset - 8;  // the last word that fits
  CHECK(target::check_go_offsets(off));
}

TEST_CASE("hostile target: a g named many times in allgs is read once", "[hostile]") {
  FakeGoroutines f;
  const uint64_t g = f.add(7);
  f.allgs.assign(200000, g);
  f.allgs.push_back(f.add(8));
  std::string cut;
  auto r = target::read_live_goroutines(target::RemoteMemory(getpid()), f.addr(), f.off, true, {}, &cut);
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].goid == 7);
  CHECK((*r)[1].goid == 8);
  // Said in one line, the walk not cut.
  CHECK_THAT(cut, Catch::Contains("199999 repeated entries") && Catch::Contains("read once"));
  CHECK(cut.find('\n') == std::string::npos);
  CHECK(cut.find("cut after") == std::string::npos);
}

TEST_CASE("hostile target: the goroutine walk stops at its step and byte limits and says so", "[hostile]") {
  FakeGoroutines f;
  for (uint64_t i = 0; i < 3000; i++) f.allgs.push_back(f.add(i + 1));
  target::WalkLimits limits;
  limits.max_steps = 100;
  std::string cut;
  auto r = target::read_live_goroutines(target::RemoteMemory(getpid()), f.addr(), f.off, false, limits, &cut);
  REQUIRE(r);
  CHECK(r->size() == 100);
  CHECK_THAT(cut, Catch::Contains("cut after 100 of the 3000") && Catch::Contains("limit"));

  limits = {};
  limits.max_bytes = 100 * 1024;  // allgs and its visited set fit; the first batch of 1024 passes it
  cut.clear();
  r = target::read_live_goroutines(target::RemoteMemory(getpid()), f.addr(), f.off, false, limits, &cut);
  REQUIRE(r);
  CHECK(r->size() == 1024);
  CHECK_THAT(cut, Catch::Contains("MiB"));
  CHECK(cut.find('\n') == std::string::npos);
}

TEST_CASE("hostile target: the goroutine walk honours the stop flag", "[hostile]") {
  FakeGoroutines f;
  for (uint64_t i = 0; i < 10; i++) f.allgs.push_back(f.add(i + 1));
  std::atomic<bool> stop{true};
  target::WalkLimits limits;
  limits.stop = &stop;
  std::string cut;
  auto r = target::read_live_goroutines(target::RemoteMemory(getpid()), f.addr(), f.off, true, limits, &cut);
  REQUIRE(r);
  CHECK(r->empty());
  CHECK_THAT(cut, Catch::Contains("interrupted"));
}

TEST_CASE("hostile target: a bucket list that loops ends at the loop and says so", "[hostile]") {
  FakeBucket a, b;
  a.link(b.addr());
  b.link(a.addr());  // a -> b -> a -> ...
  FakeProfile p;
  p.head = a.addr();
  const auto started = std::chrono::steady_clock::now();
  auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), facts121(), size_t(1) << 40);
  REQUIRE(r);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  CHECK(r->buckets.size() == 2);
  CHECK_THAT(r->cut, Catch::Contains("loops"));

  FakeBucket self;
  self.link(self.addr());
  p.head = self.addr();
  r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), facts121(), size_t(1) << 40);
  REQUIRE(r);
  CHECK(r->buckets.size() == 1);
  CHECK_THAT(r->cut, Catch::Contains("loops"));
}

TEST_CASE("hostile target: skipped buckets count toward the bucket limit", "[hostile]") {
  std::deque<FakeBucket> list;
  FakeProfile p;
  for (int i = 0; i < 100; i++) {
    list.emplace_back(/*typ=*/7);  // not a memory-profile bucket: skipped
    list.back().link(p.head);
    p.head = list.back().addr();
  }
  auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), facts121(), 10);
  REQUIRE(r);
  CHECK(r->unreadable == 10);
  CHECK_THAT(r->cut, Catch::Contains("cut after 10 buckets"));
}

TEST_CASE("hostile target: the bucket walk honours its byte budget and the stop flag", "[hostile]") {
  std::deque<FakeBucket> list;
  FakeProfile p;
  for (int i = 0; i < 100; i++) {
    list.emplace_back(1, 32);
    list.back().link(p.head);
    p.head = list.back().addr();
  }
  target::WalkLimits limits;
  limits.max_bytes = 10 * 1024;
  auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), facts121(), 1u << 22, limits);
  REQUIRE(r);
  CHECK(r->buckets.size() < 100);
  CHECK_FALSE(r->buckets.empty());
  CHECK_THAT(r->cut, Catch::Contains("MiB"));

  std::atomic<bool> stop{true};
  limits = {};
  limits.stop = &stop;
  r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), facts121(), 1u << 22, limits);
  REQUIRE(r);
  CHECK(r->buckets.empty());
  CHECK_THAT(r->cut, Catch::Contains("interrupted"));
}

// --- files of the target -------------------------------------------------------

namespace {

// A fake root for a target: lib/real.so (a regular file), symlinks that
// stay inside it, symlinks that point out (absolute, and `..` up), a FIFO;
// and, outside it, a file of the host.
struct FakeRoot {
  std::filesystem::path base, root, host_file;
  FakeRoot() {
    base = std::filesystem::temp_directory_path() / ("mws-root-" + std::to_string(getpid()));
    std::filesystem::remove_all(base);
    root = base / "root";
    std::filesystem::create_directories(root / "lib");
    std::ofstream(root / "lib/real.so") << "inside";
    host_file = base / "host-secret";
    std::ofstream(host_file) << "host";
    std::filesystem::create_symlink("real.so", root / "lib/relative.so");
    std::filesystem::create_symlink("/lib/real.so", root / "lib/absolute-inside.so");
    std::filesystem::create_symlink(host_file, root / "lib/absolute-out.so");
    std::filesystem::create_symlink("../../host-secret", root / "lib/dotdot-out.so");
    std::filesystem::create_symlink("../../../../../../../../lib/real.so", root / "lib/dotdot-clamped.so");
    std::filesystem::create_symlink("loop-b", root / "lib/loop-a");
    std::filesystem::create_symlink("loop-a", root / "lib/loop-b");
    REQUIRE(mkfifo((root / "lib/fifo.so").c_str(), 0600) == 0);
  }
  ~FakeRoot() { std::filesystem::remove_all(base); }
};

std::string contents(int fd) {
  char buf[64];
  const ssize_t n = pread(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

}  // namespace

TEST_CASE("hostile target: its files open beneath its root, never a FIFO, never a host file", "[hostile]") {
  FakeRoot r;
  target::UniqueFd root(open(r.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(root);
  using Open = Result<target::UniqueFd> (*)(int, const std::string&);
  for (auto [name, open_fn] : {std::pair<const char*, Open>{"openat2", target::open_beneath},
                               std::pair<const char*, Open>{"component walk", target::open_beneath_by_walk}}) {
    INFO(name);
    for (const char* inside : {"/lib/real.so", "lib/real.so", "/lib/relative.so", "/lib/absolute-inside.so",
                               "/lib/dotdot-clamped.so", "/../../lib/./real.so"}) {
      INFO(inside);
      auto fd = open_fn(root.get(), inside);
      REQUIRE(fd);
      CHECK(contents(fd->get()) == "inside");
      CHECK((fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);
    }
    for (const char* out : {"/lib/absolute-out.so", "/lib/dotdot-out.so"}) {
      INFO(out);
      auto fd = open_fn(root.get(), out);
      CHECK_FALSE(fd);  // the host's file is not beneath the root
    }
    const auto started = std::chrono::steady_clock::now();
    auto fifo = open_fn(root.get(), "/lib/fifo.so");
    REQUIRE_FALSE(fifo);
    CHECK_THAT(fifo.error().message, Catch::Contains("not a regular file"));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    CHECK_FALSE(open_fn(root.get(), "/lib"));
    CHECK_FALSE(open_fn(root.get(), "/lib/loop-a"));
  }
  // A FIFO named as an ELF file is refused at once, not waited on.
  CHECK_FALSE(target::ElfFile::open((r.root / "lib/fifo.so").string()));
}

TEST_CASE("hostile target: a library opened through /proc/PID/root is that one open file", "[hostile]") {
  // This process's own root is "/": the test binary, opened beneath it.
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  REQUIRE(n > 0);
  self[n] = '\0';
  auto elf = target::ElfFile::open_in_root(getpid(), self);
  REQUIRE(elf);
  CHECK_THAT((*elf)->path(), Catch::StartsWith("/proc/self/fd/"));
  struct stat a {}, b {};
  REQUIRE(fstat((*elf)->fd(), &a) == 0);
  REQUIRE(stat((*elf)->path().c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  auto exe = target::ElfFile::open_process_exe(getpid());
  REQUIRE(exe);
  REQUIRE(fstat((*exe)->fd(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
}

// --- writes into the target (--go-sample-rate) ---------------------------------

namespace {
int64_t g_rate_word alignas(8) = 512 * 1024;
}

TEST_CASE("hostile target: only the 8-byte, aligned, writable runtime.MemProfileRate may be written", "[hostile]") {
  for (const char* name : {"allocserver", "allocserver_stripped"}) {
    INFO(name);
    auto exe = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/" + name);
    REQUIRE(exe);
    auto bi = target::read_go_buildinfo(**exe);
    REQUIRE(bi);
    target::GoFunctionIndex index(**exe, bi->version, name);
    auto rate = target::find_mem_profile_rate(**exe, index);
    REQUIRE(rate);
    CHECK(target::check_mem_profile_rate_word(**exe, *rate));
    CHECK_FALSE(target::check_mem_profile_rate_word(**exe, *rate + 4));  // unaligned
    CHECK_FALSE(target::check_mem_profile_rate_word(**exe, 0));
    auto text = (*exe)->section(".text");
    REQUIRE(text);
    auto code = target::check_mem_profile_rate_word(**exe, (text->addr + 7) & ~7ull);
    REQUIRE_FALSE(code);  // code is no writable data
    CHECK_THAT(code.error().message, Catch::Contains("refusing"));
  }
}

TEST_CASE("hostile target: a write goes to the process inspected, or nowhere", "[hostile]") {
  SECTION("the process inspected, still there: written") {
    auto exe = target::open_regular_file("/proc/self/exe");
    REQUIRE(exe);
    auto bound = target::BoundProcess::bind(getpid(), exe->get());
    REQUIRE(bound);
    REQUIRE(bound->write_word(reinterpret_cast<uint64_t>(&g_rate_word), 4096));
    CHECK(g_rate_word == 4096);
    CHECK_FALSE(bound->write_word(reinterpret_cast<uint64_t>(&g_rate_word) + 4, 1));  // unaligned
    g_rate_word = 512 * 1024;
  }
  SECTION("it ran exec since: refused") {
    int go[2];
    REQUIRE(pipe(go) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      char c;
      if (read(go[0], &c, 1) == 1) execl("/bin/sleep", "sleep", "10", static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::string proc = "/proc/" + std::to_string(child);
    auto exe = target::open_regular_file(proc + "/exe");
    REQUIRE(exe);
    auto bound = target::BoundProcess::bind(child, exe->get());
    REQUIRE(bound);
    CHECK(bound->verify());
    REQUIRE(write(go[1], "x", 1) == 1);
    for (int i = 0; i < 200; i++) {  // until the exec is done
      char link[4096] = {};
      if (readlink((proc + "/exe").c_str(), link, sizeof(link) - 1) > 0 && std::string(link).find("sleep") != std::string::npos)
        break;
      usleep(10000);
    }
    auto st = bound->write_word(reinterpret_cast<uint64_t>(&g_rate_word), 1);
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message, Catch::Contains("executable"));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    // Gone and reaped: its PID may name another process now.
    st = bound->write_word(reinterpret_cast<uint64_t>(&g_rate_word), 1);
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message, Catch::Contains("gone"));
    close(go[0]);
    close(go[1]);
  }
}

// --- .gopclntab scan -------------------------------------------------------------

TEST_CASE("hostile target: look-alike pcHeaders cannot make the table scan quadratic", "[hostile]") {
  // 5000 go1.20 headers that pass every O(1) check, each pointing at one
  // shared 2 MiB function index that is sorted up to its last entry: the
  // old scan walked the whole index for each of them (10^9 steps).
  constexpr size_t kHeaders = 5000, kHeader = 72, kIndex = 2 << 20;
  std::vector<uint8_t> region(kHeaders * kHeader + kIndex, 0);
  const size_t index_at = kHeaders * kHeader;
  const uint64_t nfunc = kIndex / 8 - 1;
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(region.data() + at, &v, 8); };
  for (size_t i = 0; i < kHeaders; i++) {
    const size_t h = i * kHeader;
    const uint8_t magic[8] = {0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8};
    std::memcpy(region.data() + h, magic, 8);
    put64(h + 8, nfunc);
    put64(h + 24, 0x401000);  // textStart
    for (int t = 0; t < 4; t++) put64(h + 32 + 8 * t, kHeader);
    put64(h + 64, index_at - h);  // functab: the shared index
  }
  const uint32_t one = 1;
  std::memcpy(region.data() + index_at + 8 * (nfunc - 1), &one, 4);  // entry nfunc (0) < entry nfunc-1 (1)
  std::vector<target::MemoryRegion> memory = {{0x500000, region, false}};
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(target::GoPclntab::find_header(memory));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));

  std::atomic<bool> stop{true};
  CHECK_FALSE(target::GoPclntab::find_header(memory, &stop));
}

// --- terminal output ---------------------------------------------------------------

TEST_CASE("hostile target: its strings cannot drive the terminal", "[hostile]") {
  // An executable named to retitle and clear the terminal.
  const std::string title = "/srv/\x1b]0;pwned\x07\x1b[2Japi";
  const std::string safe = terminal_safe(title);
  CHECK(safe == "/srv/\\x1b]0;pwned\\x07\\x1b[2Japi");
  for (const std::string& s : {title, std::string("a\xc2\x9b" "31mb"), std::string("x\x7fy"), std::string("\xff\xfe"),
                               std::string("\xe2\x80\xae" "evil"), std::string("\xc0\xaf"), std::string("cut\xe2\x82")}) {
    const std::string out = terminal_safe(s);
    for (unsigned char c : out) CHECK((c >= 0x20 && c < 0x7f));  // these are all escaped to ASCII
    CHECK(textfmt::printable(s) == out);  // the text report uses the same sanitizer
  }
  // Printable UTF-8 passes unchanged.
  CHECK(terminal_safe("main.(*Server).Handle·ü→日本") == "main.(*Server).Handle·ü→日本");
  CHECK(terminal_safe("C:\\path") == "C:\\path");
}

// --- outputs -------------------------------------------------------------------------

TEST_CASE("hostile host users: outputs are 0600 and planted directory symlinks are refused", "[hostile]") {
  const auto base = std::filesystem::temp_directory_path() / ("mws-out-" + std::to_string(getpid()));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  const mode_t old_umask = umask(022);
  REQUIRE(write_file((base / "p.json").string(), std::string_view("{}")));
  umask(old_umask);
  struct stat st {};
  REQUIRE(stat((base / "p.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // /tmp-like: sticky and world-writable, with a symlink another user planted.
  const auto shared = base / "shared";
  std::filesystem::create_directories(shared);
  std::filesystem::create_directories(base / "victim");
  REQUIRE(chmod(shared.c_str(), 01777) == 0);
  std::filesystem::create_symlink(base / "victim", shared / "out");
  if (lchown((shared / "out").c_str(), 65534, 65534) != 0) {
    std::filesystem::remove_all(base);
    MWS_SKIP("not root: cannot plant a symlink owned by another user (the 0600 half passed)");
  } else {
    auto refused = write_file((shared / "out" / "p.json").string(), std::string_view("{}"));
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::Contains("symlink owned by another user"));
    CHECK_FALSE(std::filesystem::exists(base / "victim" / "p.json"));
    CHECK_FALSE(check_writable((shared / "out" / "p.json").string()));
    // A symlink of one's own there is followed as before.
    REQUIRE(lchown((shared / "out").c_str(), geteuid(), getegid()) == 0);
    CHECK(write_file((shared / "out" / "p.json").string(), std::string_view("{}")));
  }
  std::filesystem::remove_all(base);
}

// --- a fake memory source ------------------------------------------------------------

namespace {

// Memory served from a few regions; every read is counted.
struct FakeMemory : target::MemorySource {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> regions;
  mutable uint64_t reads = 0;
  bool read(uint64_t addr, void* out, size_t len) const override {
    reads++;
    for (const auto& [at, bytes] : regions)
      if (addr >= at && len <= bytes.size() && addr - at <= bytes.size() - len) {
        std::memcpy(out, bytes.data() + (addr - at), len);
        return true;
      }
    return false;
  }
  void put(uint64_t at, std::vector<uint64_t> words) {
    std::vector<uint8_t> bytes(words.size() * 8);
    std::memcpy(bytes.data(), words.data(), bytes.size());
    regions.emplace_back(at, std::move(bytes));
  }
};

}  // namespace

TEST_CASE("hostile target: adversarial images through a fake memory source", "[hostile]") {
  auto fake = std::make_shared<FakeMemory>();
  const target::RemoteMemory mem(fake);
  const auto off = *target::go_offsets_from_table("go1.21.0");
  // allgs claims 2^24 goroutines in memory that is not there.
  fake->put(0x1000, {0xdead0000, 1u << 24, 1u << 24});
  auto gs = target::read_live_goroutines(mem, 0x1000, off, true);
  REQUIRE_FALSE(gs);
  CHECK_THAT(gs.error().message, Catch::Contains("allgs"));
  // len > cap: torn or forged.
  fake->put(0x2000, {0x3000, 5, 4});
  CHECK_FALSE(target::read_live_goroutines(mem, 0x2000, off, true));
  // A bucket whose allnext points at itself, and one whose header is in nothing.
  std::vector<uint64_t> bucket = {0, 0x5000, 1, 0, 64, 1, 0x401000};
  bucket.resize(bucket.size() + 16, 0);
  bucket[7] = 3;  // active allocs
  fake->put(0x5000, bucket);
  fake->put(0x4000, {0x5000, 0, 1});  // mbuckets, mProfCycle, MemProfileRate
  fake->reads = 0;
  auto heap = target::read_heap_profile(mem, {0x4000, 0x4008, 0x4010}, facts121());
  REQUIRE(heap);
  CHECK(heap->buckets.size() == 1);
  CHECK_THAT(heap->cut, Catch::Contains("loops"));
  CHECK(fake->reads < 10);
  // The public write stays refused on a read-only source.
  const int64_t v = 1;
  CHECK_FALSE(mem.write(0x4010, &v, sizeof(v)));
}

TEST_CASE("hostile target: an allm list that loops is walked once", "[hostile]") {
  auto fake = std::make_shared<FakeMemory>();
  const target::RemoteMemory mem(fake);
  const auto g = *target::go_offsets_from_table("go1.21.0");
  target::GoMOffsets m;
  m.m_procid = 72;
  m.m_lockedg = 200;
  m.m_alllink = 208;
  // Two Ms linked to each other through alllink, no current goroutine.
  std::vector<uint64_t> m1(64, 0), m2(64, 0);
  m1[72 / 8] = 101;
  m1[208 / 8] = 0x20000;
  m2[72 / 8] = 102;
  m2[208 / 8] = 0x10000;
  fake->put(0x10000, m1);
  fake->put(0x20000, m2);
  fake->put(0x30000, {0x10000});  // runtime.allm
  auto threads = target::read_go_threads(mem, 0x30000, m, g, [](uint64_t) { return std::optional<int32_t>(); });
  REQUIRE(threads);
  REQUIRE(threads->size() == 2);
  CHECK((*threads)[0].tid == 101);
  CHECK((*threads)[1].tid == 102);
}

TEST_CASE("hostile target: a goroutine whose frame pointers loop is walked once and said so", "[hostile]") {
  auto fake = std::make_shared<FakeMemory>();
  const target::RemoteMemory mem(fake);
  const auto off = *target::go_offsets_from_table("go1.21.0");
  // One waiting g, its stack [0x20000, 0x22000): two frames, the second
  // saves a frame pointer to itself.
  const uint64_t g = 0x10000, lo = 0x20000, hi = 0x22000, sp = 0x21f00;
  std::vector<uint64_t> gw(512 / 8, 0);
  auto set = [&](int64_t at, uint64_t v, size_t len) { std::memcpy(reinterpret_cast<uint8_t*>(gw.data()) + at, &v, len); };
  set(0, lo, 8);
  set(8, hi, 8);
  set(off.g_atomicstatus, target::kGoStatusWaiting, 4);
  set(off.g_sched_pc, 0x401000, 8);
  set(off.g_sched_sp, sp, 8);
  set(off.g_sched_bp, sp + 0x10, 8);
  set(off.g_goid, 42, 8);
  fake->put(g, gw);
  std::vector<uint64_t> stack((hi - sp) / 8, 0);
  stack[2] = sp + 0x40;  // frame at sp+0x10: caller's frame at sp+0x40
  stack[3] = 0x401100;
  stack[8] = sp + 0x40;  // frame at sp+0x40: "caller" is itself
  stack[9] = 0x401200;
  fake->put(sp, stack);
  fake->put(0x3000, {g});
  fake->put(0x1000, {0x3000, 1, 1});
  std::string cut;
  auto gs = target::read_live_goroutines(mem, 0x1000, off, true, {}, &cut);
  REQUIRE(gs);
  REQUIRE(gs->size() == 1);
  CHECK((*gs)[0].stack == std::vector<uint64_t>{0x401000, 0x401100, 0x401200});
  CHECK_THAT(cut, Catch::Contains("stacks of 1 goroutines") && Catch::Contains("points back down"));
}
