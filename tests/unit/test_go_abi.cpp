// The Go ABI table against the truth: the compiler's DWARF of the fixtures (built with
// the machine's Go) must give exactly the hand-computed row for that Go version, the
// stripped build must fall back to that row, and the local toolchain's own
// runtime2.go must list the same waitReasons. The other rows are checked for internal
// consistency (declaration order, shared prefixes, per-version facts).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "symbolize/go_closure_names.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/gopclntab.h"
#include "../skip.h"

using mws::target::ElfFile;
using mws::target::go_function_facts;
using mws::target::go_offsets_from_dwarf;
using mws::target::go_offsets_from_table;
using mws::target::go_runtime_offsets;
using mws::target::go_status_name;
using mws::target::go_wait_reason_name;
using mws::target::GoRuntimeOffsets;
using mws::target::kGoAbiMaxMinor;
using mws::target::kGoAbiMinMinor;

namespace {

std::string fixture(const std::string& name) { return std::string(MWS_FIXTURE_DIR) + "/" + name; }

std::unique_ptr<ElfFile> open_fixture(const std::string& name) {
  auto elf = ElfFile::open(fixture(name));
  INFO(fixture(name) << ": " << (elf ? "" : elf.error().message));
  REQUIRE(elf.ok());
  return std::move(elf.value());
}

std::string fixture_go_version(const ElfFile& elf) {
  auto bi = mws::target::read_go_buildinfo(elf);
  REQUIRE(bi.has_value());
  REQUIRE(mws::target::parse_go_version(bi->version).has_value());
  return bi->version;
}

std::string version(int minor) { return "go1." + std::to_string(minor); }

void require_same(const GoRuntimeOffsets& got, const GoRuntimeOffsets& want) {
  CHECK(got.g_goid == want.g_goid);
  CHECK(got.g_startpc == want.g_startpc);
  CHECK(got.g_gopc == want.g_gopc);
  CHECK(got.g_atomicstatus == want.g_atomicstatus);
  CHECK(got.g_waitreason == want.g_waitreason);
  CHECK(got.g_waitsince == want.g_waitsince);
  CHECK(got.g_sched_sp == want.g_sched_sp);
  CHECK(got.g_sched_pc == want.g_sched_pc);
  CHECK(got.g_sched_bp == want.g_sched_bp);
  CHECK(got.g_m == want.g_m);
  CHECK(got.m_curg == want.m_curg);
  CHECK(got.g_syscallsp == want.g_syscallsp);
  CHECK(got.g_syscallpc == want.g_syscallpc);
  CHECK(got.m_g0 == want.m_g0);
  CHECK(got.g_parent_goid == want.g_parent_goid);
}

std::string run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The strings of runtime2.go's `const ( waitReasonZero waitReason = iota // "" ...)`
// block, in enum order (each line carries the string as a // "..." comment).
std::vector<std::string> wait_reasons_from_source(const std::string& runtime2_go) {
  std::ifstream in(runtime2_go);
  std::vector<std::string> out;
  std::string line;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (!in_block) {
      in_block = line.find("waitReasonZero") != std::string::npos &&
                 line.find("iota") != std::string::npos;
      if (!in_block) continue;
    } else if (line.find(')') == 0) {
      break;
    }
    auto c = line.find("// \"");
    if (c == std::string::npos) continue;
    auto end = line.rfind('"');
    out.push_back(line.substr(c + 4, end - (c + 4)));
  }
  return out;
}

}  // namespace

TEST_CASE("DWARF offsets of the go fixture equal the table row of its Go version", "[goabi]") {
  auto elf = open_fixture("allocserver");
  const std::string ver = fixture_go_version(*elf);
  auto dwarf = go_offsets_from_dwarf(*elf);
  INFO("go version " << ver << ": " << (dwarf ? "" : dwarf.error().message));
  REQUIRE(dwarf.ok());
  CHECK(dwarf->source == "DWARF");
  auto table = go_offsets_from_table(ver);
  INFO((table ? "" : table.error().message));
  REQUIRE(table.ok());
  require_same(*dwarf, *table);
  auto facts = go_function_facts(ver);
  REQUIRE(facts.ok());
  auto tiny_allocs = go_member_offset_from_dwarf(*elf, "runtime.mcache", "tinyAllocs");
  REQUIRE(tiny_allocs.ok());
  CHECK(*tiny_allocs == facts->mcache_tiny_allocs_offset);

  // And the entry point prefers DWARF when there is some.
  auto best = go_runtime_offsets(*elf, ver);
  REQUIRE(best.ok());
  CHECK(best->source == "DWARF");
}

TEST_CASE("DWARF offsets of the go1.19 fixture are the known go1.19 layout", "[goabi]") {
  auto elf = open_fixture("allocserver");
  const std::string ver = fixture_go_version(*elf);
  if (mws::target::parse_go_version(ver)->second != 19) {
    MWS_SKIP("fixture built with " << ver << ", not go1.19 (Debian 12's golang-go): the go1.19 literal check");
  }
  auto o = go_offsets_from_dwarf(*elf);
  REQUIRE(o.ok());
  CHECK(o->g_sched_sp == 56);
  CHECK(o->g_sched_pc == 64);
  CHECK(o->g_sched_bp == 104);
  CHECK(o->g_atomicstatus == 144);
  CHECK(o->g_goid == 152);
  CHECK(o->g_waitsince == 168);
  CHECK(o->g_waitreason == 176);
  CHECK(o->g_gopc == 296);
  CHECK(o->g_startpc == 312);
}

TEST_CASE("a stripped binary falls back to the table of its Go version", "[goabi]") {
  auto elf = open_fixture("allocserver_stripped");
  const std::string ver = fixture_go_version(*elf);
  auto dwarf = go_offsets_from_dwarf(*elf);
  REQUIRE_FALSE(dwarf.ok());
  CHECK(dwarf.error().message.find("DWARF") != std::string::npos);

  auto o = go_runtime_offsets(*elf, ver);
  INFO((o ? "" : o.error().message));
  REQUIRE(o.ok());
  const int minor = mws::target::parse_go_version(ver)->second;
  CHECK(o->source == "table " + version(minor));
  if (minor == 19) CHECK(o->source == "table go1.19");

  // The unstripped twin's DWARF says the same.
  auto twin = go_offsets_from_dwarf(*open_fixture("allocserver"));
  REQUIRE(twin.ok());
  require_same(*o, *twin);
}

TEST_CASE("a version before the table, or not Go 1, is an error that names it", "[goabi]") {
  for (std::string v : {"go1.16.15", "go2.0", "not a version"}) {
    INFO(v);
    auto o = go_offsets_from_table(v);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().message.find(v) != std::string::npos);
    auto f = go_function_facts(v);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().message.find(v) != std::string::npos);
    CHECK(go_wait_reason_name(v, 2) == "");
  }
  // No DWARF and no table row: the error still names the version.
  auto stripped = open_fixture("allocserver_stripped");
  auto o = go_runtime_offsets(*stripped, "go1.16.15");
  REQUIRE_FALSE(o.ok());
  CHECK(o.error().message.find("go1.16.15") != std::string::npos);
}

TEST_CASE("a version newer than the table takes the newest row and says so", "[goabi]") {
  const std::string newest = version(kGoAbiMaxMinor);
  for (std::string v : {version(kGoAbiMaxMinor + 1) + ".2", std::string("devel ") + version(kGoAbiMaxMinor + 3) + "-abcdef"}) {
    INFO(v);
    auto o = go_offsets_from_table(v);
    REQUIRE(o.ok());
    auto row = go_offsets_from_table(newest + ".1");
    REQUIRE(row.ok());
    CHECK(o->g_goid == row->g_goid);
    CHECK(o->g_sched_bp == row->g_sched_bp);
    CHECK(o->source == "table " + newest + " (newest row, for " + v + ")");
    auto f = go_function_facts(v);
    REQUIRE(f.ok());
    CHECK(f->has_gdestroy);
    CHECK(f->gdestroy_function == "runtime.gdestroy");
    CHECK(go_wait_reason_name(v, 2) == "IO wait");
  }
}

TEST_CASE("allocator functions: entry points, internal paths, unknown ones", "[goabi]") {
  using mws::target::allocator_role;
  using mws::target::AllocatorRole;
  for (const char* fn : {"runtime.mallocgc", "runtime.mallocgcSmallScanNoHeaderSC1", "runtime.mallocgcSmallScanNoHeaderSC26",
                         "runtime.mallocgcSmallNoScanSC2", "runtime.mallocgcTinySC2", "runtime.mallocgcTinySize15"}) {
    INFO(fn);
    CHECK(allocator_role(fn) == AllocatorRole::kEntry);
  }
  for (const char* fn : {"runtime.mallocgcTiny", "runtime.mallocgcSmallNoscan", "runtime.mallocgcSmallScanNoHeader",
                         "runtime.mallocgcSmallScanHeader", "runtime.mallocgcLarge", "runtime.mallocgcTinySlowPath",
                         "runtime.mallocgcSmallScanSlowPath", "runtime.mallocgcSmallNoScanSlowPath"}) {
    INFO(fn);
    CHECK(allocator_role(fn) == AllocatorRole::kInternal);
  }
  for (const char* fn : {"runtime.mallocgcHuge", "runtime.mallocgcSmallScanNoHeaderSC", "runtime.mallocgcTinySCx",
                         "runtime.mallocgcSmallNoScanSC3.abi0", "runtime.newobject"}) {
    INFO(fn);
    CHECK(allocator_role(fn) == AllocatorRole::kUnknown);
  }
}

TEST_CASE("patch releases and release candidates use their minor version's row", "[goabi]") {
  auto a = go_offsets_from_table("go1.21.13");
  auto b = go_offsets_from_table("go1.21rc2");
  auto c = go_offsets_from_table("go1.21");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(*a == *b);
  CHECK(*a == *c);
  CHECK(a->source == "table go1.21");
}

TEST_CASE("goroutine status names, with the scan bit", "[goabi]") {
  CHECK(go_status_name(0) == "idle");
  CHECK(go_status_name(1) == "runnable");
  CHECK(go_status_name(2) == "running");
  CHECK(go_status_name(3) == "syscall");
  CHECK(go_status_name(4) == "waiting");
  CHECK(go_status_name(6) == "dead");
  CHECK(go_status_name(8) == "copystack");
  CHECK(go_status_name(9) == "preempted");
  CHECK(go_status_name(0x1001) == "runnable (scan)");
  CHECK(go_status_name(0x1002) == "running (scan)");
  CHECK(go_status_name(0x1004) == "waiting (scan)");
  CHECK(go_status_name(0x1009) == "preempted (scan)");
  CHECK(go_status_name(0x42).find("unknown") != std::string::npos);
  CHECK(go_status_name(0x1042).find("unknown") != std::string::npos);
  CHECK(go_status_name(10) == "leaked");
  CHECK(go_status_name(11) == "deadextra");
  // A free g (_Gdead) and a cgo extra M's idle g (_Gdeadextra, 1.26+) are no goroutines.
  using mws::target::go_status_is_goroutine;
  using mws::target::go_status_is_waiting;
  CHECK_FALSE(go_status_is_goroutine(6));
  CHECK_FALSE(go_status_is_goroutine(11));
  CHECK(go_status_is_goroutine(4));
  CHECK(go_status_is_goroutine(10));
  CHECK(go_status_is_goroutine(0x1004));
  // _Gleaked is a waiting goroutine: its wait reason applies.
  CHECK(go_status_is_waiting(4));
  CHECK(go_status_is_waiting(0x1004));
  CHECK(go_status_is_waiting(10));
  CHECK_FALSE(go_status_is_waiting(2));
}

TEST_CASE("wait reason names as Go prints them", "[goabi]") {
  // go1.19 (runtime2.go of go1.19.x)
  CHECK(go_wait_reason_name("go1.19.8", 0) == "");
  CHECK(go_wait_reason_name("go1.19.8", 2) == "IO wait");
  CHECK(go_wait_reason_name("go1.19.8", 9) == "select");
  CHECK(go_wait_reason_name("go1.19.8", 14) == "chan receive");
  CHECK(go_wait_reason_name("go1.19.8", 15) == "chan send");
  CHECK(go_wait_reason_name("go1.19.8", 18) == "semacquire");
  CHECK(go_wait_reason_name("go1.19.8", 19) == "sleep");
  CHECK(go_wait_reason_name("go1.19.8", 20) == "sync.Cond.Wait");
  CHECK(go_wait_reason_name("go1.19.8", 26) == "debug call");
  CHECK(go_wait_reason_name("go1.19.8", 27) == "");  // out of range
  CHECK(go_wait_reason_name("go1.19.8", 255) == "");
  // The enum changed across versions.
  CHECK(go_wait_reason_name("go1.21.0", 21) == "sync.Mutex.Lock");
  CHECK(go_wait_reason_name("go1.22.0", 36) == "coroutine");
  CHECK(go_wait_reason_name("go1.22.0", 37) == "");
  CHECK(go_wait_reason_name("go1.23.0", 37) == "GC weak to strong wait");
  CHECK(go_wait_reason_name("go1.24.0", 24) == "sync.WaitGroup.Wait");
  CHECK(go_wait_reason_name("go1.24.0", 41) == "chan receive (synctest)");
  CHECK(go_wait_reason_name("go1.25.0", 18) == "GOMAXPROCS updater (idle)");
  CHECK(go_wait_reason_name("go1.25.0", 9) == "select");
  CHECK(go_wait_reason_name("go1.25.0", 46) == "cleanup wait");
  CHECK(go_wait_reason_name("go1.26.0", 9) == "GC scavenge wait");
  CHECK(go_wait_reason_name("go1.26.0", 18) == "select");
  CHECK(go_wait_reason_name("go1.26.0", 19) == "chan receive");
}

TEST_CASE("the local toolchain's runtime2.go lists the table's wait reasons", "[goabi]") {
  auto elf = open_fixture("allocserver");
  const std::string ver = fixture_go_version(*elf);
  const std::string goroot = run("go env GOROOT 2>/dev/null");
  const std::string src = goroot + "/src/runtime/runtime2.go";
  const std::string local = run("go env GOVERSION 2>/dev/null");
  if (goroot.empty() || !std::ifstream(src) ||
      mws::target::parse_go_version(local) != mws::target::parse_go_version(ver)) {
    MWS_SKIP("no runtime2.go of " << ver << " at '" << src << "' (local go: '" << local
                                   << "'): the wait-reason source check");
  }
  auto reasons = wait_reasons_from_source(src);
  INFO(src);
  REQUIRE(reasons.size() > 20);
  for (size_t i = 0; i < reasons.size(); i++) {
    INFO("waitReason " << i);
    CHECK(go_wait_reason_name(ver, static_cast<uint8_t>(i)) == reasons[i]);
  }
  CHECK(go_wait_reason_name(ver, static_cast<uint8_t>(reasons.size())) == "");
}

TEST_CASE("table rows are consistent across Go versions", "[goabi]") {
  for (int minor = kGoAbiMinMinor; minor <= kGoAbiMaxMinor; minor++) {
    const std::string v = version(minor) + ".1";
    INFO(v);
    auto r = go_offsets_from_table(v);
    REQUIRE(r.ok());
    const GoRuntimeOffsets& o = *r;
    CHECK(o.source == "table " + version(minor));

    // The head of runtime.g never moved: sched (a gobuf) at 56.
    CHECK(o.g_sched_sp == 56);
    CHECK(o.g_sched_pc == 64);
    // gobuf {sp, pc, g, ctxt, ret, lr, bp}; ret removed in go1.25.
    CHECK(o.g_sched_bp == (minor <= 24 ? 104 : 96));
    // Then syscallsp, syscallpc; g.m after the stack bounds, guards, _panic, _defer.
    CHECK(o.g_syscallsp == o.g_sched_bp + 8);
    CHECK(o.g_syscallpc == o.g_syscallsp + 8);
    CHECK(o.g_m == 48);
    // m.curg comes after m.morebuf, a gobuf, which shrank by 8 in go1.25.
    CHECK(o.m_curg == (minor <= 24 ? 192 : 184));

    // Declaration order: sched < atomicstatus < goid < waitsince < waitreason
    // < gopc < startpc.
    CHECK(o.g_sched_sp < o.g_sched_pc);
    CHECK(o.g_sched_pc < o.g_sched_bp);
    CHECK(o.g_sched_bp < o.g_atomicstatus);
    CHECK(o.g_atomicstatus + 8 == o.g_goid);  // atomicstatus, stackLock, goid
    CHECK(o.g_goid + 16 == o.g_waitsince);    // goid, schedlink, waitsince
    CHECK(o.g_waitsince + 8 == o.g_waitreason);
    CHECK(o.g_waitreason < o.g_gopc);
    CHECK(o.g_gopc + 16 == o.g_startpc);  // gopc, ancestors, startpc
    CHECK(o.g_parent_goid == (minor >= 21 ? o.g_gopc - 8 : -1));  // parentGoid, gopc
    // Every offset is naturally aligned.
    for (int64_t off : {o.g_goid, o.g_startpc, o.g_gopc, o.g_waitsince, o.g_sched_sp, o.g_sched_bp, o.g_sched_pc})
      CHECK(off % 8 == 0);
    CHECK(o.g_atomicstatus % 4 == 0);

    // syscallbp (go1.23) shifts everything after sched by 8; the gobuf shrink (go1.25)
    // takes it back.
    CHECK(o.g_goid == (minor == 23 || minor == 24 ? 160 : 152));

    auto f = go_function_facts(v);
    REQUIRE(f.ok());
    CHECK(f->newproc1_returns_g);
    CHECK(f->mallocgc_size_arg == 0);
    CHECK(f->mallocgc_type_arg == 1);
    CHECK(f->mprof_malloc_ptr_arg == (minor >= 23 ? 1 : 0));
    CHECK(f->mprof_malloc_size_arg == f->mprof_malloc_ptr_arg + 1);
    CHECK(f->has_gdestroy == (minor >= 22));
    CHECK(f->gdestroy_function == (minor >= 22 ? "runtime.gdestroy" : ""));
    CHECK(f->bucket_size_offset == 32);

    // Every version's waitReason list starts with waitReasonZero, has the common
    // reasons, and ends somewhere.
    CHECK(go_wait_reason_name(v, 0) == "");
    CHECK(go_wait_reason_name(v, 1) == "GC assist marking");
    CHECK(go_wait_reason_name(v, 2) == "IO wait");
    int count = 0;
    bool seen_select = false, seen_sleep = false, seen_chan_receive = false;
    for (int i = 1; i < 256; i++) {
      std::string s = go_wait_reason_name(v, static_cast<uint8_t>(i));
      if (s.empty()) break;
      count++;
      seen_select |= s == "select";
      seen_sleep |= s == "sleep";
      seen_chan_receive |= s == "chan receive";
    }
    CHECK(count >= 26);
    CHECK(seen_select);
    CHECK(seen_sleep);
    CHECK(seen_chan_receive);
    CHECK(go_wait_reason_name(v, static_cast<uint8_t>(count + 1)) == "");
  }
}

#ifdef MWS_GO_MATRIX
// ---------------------------------------------------------------------------
// The table against every real toolchain of the matrix (scripts/build-go-matrix.sh):
// the DWARF of a binary each one built, and the runtime sources it ships. A new Go
// release is one row in src/target/go_abi.cpp plus one run of this test.

namespace {

struct MatrixBuild {
  std::string name, goroot;
};

std::vector<MatrixBuild> matrix_builds() {
  std::ifstream in(fixture("go-matrix.txt"));
  std::vector<MatrixBuild> out;
  std::string name, goroot;
  while (in >> name >> goroot) out.push_back({name, goroot});
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parameter names of `func NAME(...)` in a Go source file; nullopt when absent.
std::optional<std::vector<std::string>> go_params(const std::string& src, const std::string& name) {
  auto at = src.find("\nfunc " + name + "(");
  if (at == std::string::npos) return std::nullopt;
  auto open = src.find('(', at), close = src.find(')', open);
  std::vector<std::string> names;
  std::stringstream list(src.substr(open + 1, close - open - 1));
  std::string part;
  while (std::getline(list, part, ',')) {
    std::stringstream words(part);
    std::string first;
    if (words >> first) names.push_back(first);
  }
  return names;
}

int index_of(const std::vector<std::string>& v, const std::string& x) {
  for (size_t i = 0; i < v.size(); i++)
    if (v[i] == x) return static_cast<int>(i);
  return -1;
}

// The lines of the block that starts at the first line containing `head`,
// up to the line that starts with `end`.
std::vector<std::string> block_lines(const std::string& src, const std::string& head, const std::string& end) {
  std::vector<std::string> out;
  std::stringstream in(src.substr(src.find(head) == std::string::npos ? src.size() : src.find(head)));
  std::string line;
  while (std::getline(in, line)) {
    if (!out.empty() && line.rfind(end, 0) == 0) break;
    out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("the table equals every real toolchain's DWARF and runtime sources", "[goabi][matrix]") {
  auto builds = matrix_builds();
  REQUIRE(builds.size() >= 8);
  int newest = 0;
  for (const auto& b : builds) {
    INFO(b.name << " (" << b.goroot << ")");
    auto elf = open_fixture(b.name + "/allocserver");
    const std::string ver = fixture_go_version(*elf);
    const int minor = mws::target::parse_go_version(ver)->second;
    newest = std::max(newest, minor);
    INFO(ver);

    // Struct offsets: the compiler's DWARF is the truth.
    auto dwarf = go_offsets_from_dwarf(*elf);
    REQUIRE(dwarf.ok());
    auto table = go_offsets_from_table(ver);
    REQUIRE(table.ok());
    CHECK(table->source == "table " + version(minor));
    require_same(*dwarf, *table);

    // Wait reasons and statuses: runtime2.go.
    const std::string runtime = b.goroot + "/src/runtime/";
    auto reasons = wait_reasons_from_source(runtime + "runtime2.go");
    REQUIRE(reasons.size() > 20);
    for (size_t i = 0; i < reasons.size(); i++) {
      INFO("waitReason " << i);
      CHECK(go_wait_reason_name(ver, static_cast<uint8_t>(i)) == reasons[i]);
    }
    CHECK(go_wait_reason_name(ver, static_cast<uint8_t>(reasons.size())) == "");
    const std::string runtime2 = slurp(runtime + "runtime2.go");
    uint32_t status = 0;
    for (const auto& line : block_lines(runtime2, "_Gidle = iota", "\t_Gscan")) {
      auto g = line.find("_G");
      if (g == std::string::npos || line.find("//") < g) continue;
      std::string name = line.substr(g + 2, line.find_first_of(" \t/=", g) - g - 2);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      INFO("status " << status);
      CHECK(go_status_name(status++) == name);
    }
    CHECK(status >= 10);

    // Signatures of the probed functions: mprof.go, proc.go.
    auto facts = go_function_facts(ver);
    REQUIRE(facts.ok());
    auto tiny_allocs = go_member_offset_from_dwarf(*elf, "runtime.mcache", "tinyAllocs");
    REQUIRE(tiny_allocs.ok());
    CHECK(*tiny_allocs == facts->mcache_tiny_allocs_offset);
    const std::string mprof = slurp(runtime + "mprof.go"), proc = slurp(runtime + "proc.go");
    auto malloc_params = go_params(mprof, "mProf_Malloc");
    REQUIRE(malloc_params);
    CHECK(index_of(*malloc_params, "p") == facts->mprof_malloc_ptr_arg);
    CHECK(index_of(*malloc_params, "size") == facts->mprof_malloc_size_arg);
    auto newproc1 = go_params(proc, "newproc1");
    REQUIRE(newproc1);
    // newproc1 returns the new g (read in RAX at its RETs).
    const auto newproc1_at = proc.find("\nfunc newproc1(");
    REQUIRE(newproc1_at != std::string::npos);
    const std::string newproc1_line = proc.substr(newproc1_at + 1, proc.find('\n', newproc1_at + 1) - newproc1_at - 1);
    CHECK((newproc1_line.ends_with(") *g {") == facts->newproc1_returns_g));
    CHECK(slurp(runtime + "malloc.go").find("\nfunc mallocgc(size uintptr, typ *_type, needzero bool) unsafe.Pointer {") !=
          std::string::npos);
    CHECK(facts->mallocgc_size_arg == 0);
    CHECK(facts->mallocgc_type_arg == 1);
    CHECK(go_params(proc, "gdestroy").has_value() == facts->has_gdestroy);
    // bucket: every field before size is one word (NotInHeap has no size).
    int64_t words = 0;
    bool found_size = false;
    for (const auto& line : block_lines(mprof, "type bucket struct {", "}")) {
      std::stringstream ws(line);
      std::string field;
      ws >> field;
      if (field == "size") {
        found_size = true;
        break;
      }
      if (!field.empty() && field != "_" && field != "type" && field.rfind("//", 0) != 0) words++;
    }
    CHECK(found_size);
    CHECK(words * 8 == facts->bucket_size_offset);

    // Allocator functions: every runtime.mallocgc* of the binary has a known role,
    // and the size-specialised builds have entry points besides mallocgc.
    auto pcln = mws::target::GoPclntab::parse(*elf, ver);
    REQUIRE(pcln.ok());
    size_t entries = 0;
    for (size_t i = 0; i < pcln->function_count(); i++) {
      std::string_view fn = pcln->function(i).name;
      if (!fn.starts_with("runtime.mallocgc")) continue;
      INFO(fn);
      CHECK(mws::target::allocator_role(fn) != mws::target::AllocatorRole::kUnknown);
      entries += mws::target::allocator_role(fn) == mws::target::AllocatorRole::kEntry;
    }
    const bool specialised = minor >= 27 || b.name.find("sizespecializedmalloc") != std::string::npos;
    CHECK((entries > 1) == specialised);

    // stampMW's closure is named after stampMW's maker whatever inlining did.
    bool saw_stamp = false;
    for (size_t i = 0; i < pcln->function_count(); i++) {
      std::string fn(pcln->function(i).name);
      if (fn.find("stampMW.func") == std::string::npos) continue;
      saw_stamp = true;
      INFO(fn);
      if (fn.rfind("main.stampMW.func", 0) == 0)
        CHECK(mws::symbolize::inlined_closure_owner(*pcln, fn) == "");
      else
        CHECK(mws::symbolize::inlined_closure_owner(*pcln, fn) == "main.stampMW");
    }
    CHECK(saw_stamp);
  }
  CHECK(newest == kGoAbiMaxMinor);  // the newest toolchain has its own row
}
#endif
