// GoPclntab / GoSymbolizer against the truth: the symtarget fixture prints
// what Go's own runtime.Callers + runtime.CallersFrames say about its stacks,
// and our reader must say the same from the binary alone (unstripped and
// stripped builds, each compared with its own run).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "symbolize/go_symbolizer.h"
#include "target/elf_file.h"
#include "target/gopclntab.h"

using mws::Frame;
using mws::symbolize::GoSymbolizer;
using mws::target::ElfFile;
using mws::target::GoPclntab;
using mws::target::MemoryRegion;
using mws::target::PclntabImage;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) { return std::string(MWS_FIXTURE_DIR) + "/" + name; }

json run_oracle(const std::string& path) {
  FILE* p = popen(path.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  INFO(path << " exited with status " << status);
  REQUIRE(status == 0);
  return json::parse(out);
}

std::unique_ptr<ElfFile> open_elf(const std::string& path) {
  auto elf = ElfFile::open(path);
  INFO((elf ? std::string() : elf.error().message));
  REQUIRE(elf.ok());
  return std::move(elf.value());
}

// The loaded, file-backed memory of `elf`, as the reader sees it.
std::vector<MemoryRegion> memory_of(const ElfFile& elf) {
  std::vector<MemoryRegion> mem;
  for (const auto& seg : elf.load_segments())
    mem.push_back({seg.vaddr, elf.bytes().subspan(seg.offset, seg.filesz), (seg.flags & 2u) != 0});
  return mem;
}

std::string show(const std::vector<Frame>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += "  " + f.function + " " + f.file + ":" + std::to_string(f.line) + (f.inlined ? " [inlined]" : "") + "\n";
  return s;
}

// Go says "?" for an unknown file; our Frame leaves it empty.
Frame frame_of(const json& j) {
  std::string file = j.at("file").get<std::string>();
  if (file == "?") file.clear();
  return Frame{j.at("function").get<std::string>(), file, j.at("line").get<uint32_t>(), j.at("inlined").get<bool>()};
}

// Every pc of every stack the oracle printed, symbolized as production code
// does (return address - 1), must give Go's frames. runtime.Callers puts one
// pc per logical frame (the outer frames of an inlined call get virtual
// pcs), so the truth for pc i is the frames of pcs i..k, where k is the first
// pc whose frame is a physical function.
void check_against_oracle(const std::string& name) {
  const std::string path = fixture(name);
  auto elf = open_elf(path);
  json truth = run_oracle(path);
  std::string go = truth.at("go").get<std::string>();
  auto sym = GoSymbolizer::create(*elf, go);
  INFO((sym ? std::string() : sym.error().message));
  REQUIRE(sym.ok());
  GoSymbolizer& s = *sym.value();
  CHECK(s.table().has_inline_info());

  size_t checked = 0, inlined_pcs = 0;
  for (const auto& stack : truth.at("stacks")) {
    for (size_t i = 0; i < stack.size(); i++) {
      std::vector<Frame> want;
      for (size_t k = i; k < stack.size(); k++) {
        for (const auto& f : stack[k].at("frames")) want.push_back(frame_of(f));
        if (!want.empty() && !want.back().inlined) break;
      }
      uint64_t pc = stack[i].at("pc").get<uint64_t>();
      std::vector<Frame> got = s.symbolize(pc - 1);
      INFO(name << " pc " << std::hex << pc << std::dec << "\nwant:\n" << show(want) << "got:\n" << show(got));
      CHECK(got == want);
      if (want.size() > 1) inlined_pcs++;
      checked++;
    }
  }
  CHECK(checked >= 30);
  CHECK(inlined_pcs >= 5);

  // The sweep: every instruction byte of some functions, innermost frame.
  size_t swept = 0, mismatches = 0;
  for (const auto& rec : truth.at("sweep")) {
    uint64_t pc = rec.at("pc").get<uint64_t>() - 1;
    Frame want = frame_of(rec.at("frames").at(0));
    auto levels = s.table().expand(pc);
    REQUIRE(!levels.empty());
    Frame got{mws::target::go_func_name_for_print(levels[0].function), std::string(levels[0].file),
              static_cast<uint32_t>(levels[0].line), levels[0].inlined};
    if (got != want && mismatches++ < 5) {
      INFO(name << " sweep pc " << std::hex << pc);
      CHECK(show({got}) == show({want}));
    }
    swept++;
  }
  CHECK(mismatches == 0);
  CHECK(swept >= 1000);
}

}  // namespace

TEST_CASE("GoSymbolizer matches runtime.CallersFrames (unstripped)", "[symbolize]") {
  check_against_oracle("symtarget");
}

TEST_CASE("GoSymbolizer matches runtime.CallersFrames (stripped)", "[symbolize]") {
  auto elf = open_elf(fixture("symtarget_stripped"));
  REQUIRE_FALSE(elf->has_symtab());
  check_against_oracle("symtarget_stripped");
}

TEST_CASE("GoPclntab function index agrees with .symtab", "[symbolize]") {
  auto elf = open_elf(fixture("symtarget"));
  auto t = GoPclntab::parse(*elf);
  REQUIRE(t.ok());
  const GoPclntab& tab = t.value();

  auto sym = elf->find_symbol("runtime.mallocgc");
  REQUIRE(sym.has_value());
  auto f = tab.find_function(sym->value);
  REQUIRE(f.has_value());
  CHECK(f->entry == sym->value);
  CHECK(f->name == "runtime.mallocgc");
  CHECK(f->size() >= sym->size);
  auto g = tab.find_function(sym->value + sym->size - 1);
  REQUIRE(g.has_value());
  CHECK(g->entry == sym->value);
  auto byname = tab.function_by_name("runtime.mallocgc");
  REQUIRE(byname.has_value());
  CHECK(byname->entry == sym->value);
  CHECK(byname->end == f->end);
  CHECK_FALSE(tab.function_by_name("no.such.function").has_value());
  CHECK_FALSE(tab.find_function(0).has_value());
  CHECK_FALSE(tab.find_function(~0ull).has_value());

  // Every Go function symbol is in the table at the same address. The
  // table names assembly functions without their ".abi0" suffix and generic
  // ones with "[...]"; runtime.text and runtime.etext are markers (size 0).
  size_t funcs = 0, found = 0;
  for (const auto& s : elf->symbols()) {
    if (!s.is_function) continue;
    if (s.size == 0) continue;
    funcs++;
    std::string name = mws::target::go_func_name_for_print(s.name);
    if (name.ends_with(".abi0")) name.resize(name.size() - 5);
    auto fn = tab.find_function(s.value);
    if (fn && fn->entry == s.value && fn->name == name) found++;
    else if (funcs - found < 10) WARN("not in the table: " << s.name);
  }
  INFO("table has " << tab.function_count() << " functions, .symtab " << funcs << ", matched " << found);
  CHECK(tab.function_count() > 1000);
  CHECK(found == funcs);
  CHECK(tab.function_count() * 100 >= funcs * 95);
  CHECK(tab.function_count() * 95 <= funcs * 100);

  // Iteration: sorted, non-empty, named.
  uint64_t prev = 0;
  size_t named = 0;
  for (size_t i = 0; i < tab.function_count(); i++) {
    auto fn = tab.function(i);
    CHECK(fn.entry >= prev);
    CHECK(fn.end >= fn.entry);
    prev = fn.entry;
    if (!fn.name.empty()) named++;
  }
  CHECK(named == tab.function_count());

  auto ln = tab.lines(sym->value);
  REQUIRE(ln.has_value());
  CHECK(ln->file.ends_with("runtime/malloc.go"));
  CHECK(ln->line > 0);
}

TEST_CASE("GoPclntab finds the table and moduledata.gofunc without section headers or .symtab", "[symbolize]") {
  for (const char* name : {"symtarget", "symtarget_stripped"}) {
    auto elf = open_elf(fixture(name));
    auto full = GoPclntab::parse(*elf);
    REQUIRE(full.ok());
    REQUIRE(full->gofunc().has_value());

    PclntabImage img;
    img.memory = memory_of(*elf);
    auto at = GoPclntab::find_header(img.memory);
    REQUIRE(at.has_value());
    CHECK(*at == elf->section(".gopclntab")->addr);
    for (const auto& r : img.memory)
      if (*at >= r.vaddr && *at < r.vaddr + r.bytes.size()) img.table = r.bytes.subspan(*at - r.vaddr);
    img.table_vaddr = *at;
    auto scanned = GoPclntab::parse_image(img, "go1.19");
    REQUIRE(scanned.ok());
    INFO(name);
    REQUIRE(scanned->gofunc().has_value());
    CHECK(*scanned->gofunc() == *full->gofunc());  // from .symtab when present
    CHECK(scanned->function_count() == full->function_count());
  }
}

TEST_CASE("GoPclntab rejects corrupt tables and survives mutated ones", "[symbolize]") {
  auto elf = open_elf(fixture("symtarget"));
  auto sec = elf->section(".gopclntab");
  REQUIRE(sec.has_value());
  auto orig = elf->section_data(*sec);
  const std::vector<uint8_t> good(orig.begin(), orig.end());
  auto parse = [&](const std::vector<uint8_t>& bytes) {
    PclntabImage img;
    img.table = bytes;
    img.table_vaddr = sec->addr;
    img.memory = memory_of(*elf);
    return GoPclntab::parse_image(img);
  };
  REQUIRE(parse(good).ok());

  SECTION("errors") {
    auto err = [&](std::vector<uint8_t> bytes) {
      auto r = parse(bytes);
      REQUIRE_FALSE(r.ok());
      CHECK(!r.error().message.empty());
      CHECK(r.error().message.find('\n') == std::string::npos);
      return r.error().message;
    };
    CHECK(err({}).find("truncated") != std::string::npos);
    CHECK(err(std::vector<uint8_t>(good.begin(), good.begin() + 40)).find("truncated") != std::string::npos);
    auto b = good;
    b[0] = 0xfb;
    CHECK(err(b).find("1.16") != std::string::npos);
    b = good;
    b[0] = 0x12;
    CHECK(err(b).find("magic") != std::string::npos);
    b = good;
    b[4] = 1;
    CHECK(err(b).find("pad") != std::string::npos);
    b = good;
    b[7] = 4;
    CHECK(err(b).find("pointer size") != std::string::npos);
    b = good;
    b[32 + 8 * 4 + 7] = 0x7f;  // pclnOffset far past the end
    CHECK(err(b).find("functab") != std::string::npos);
    b = good;
    b[8 + 7] = 0x10;  // nfunc huge
    CHECK(err(b).find("functions") != std::string::npos);
    // Half the table: the functab no longer fits, or entries are garbage.
    CHECK_FALSE(parse(std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 8)).ok());
    // A version that contradicts the magic.
    PclntabImage img;
    img.table = good;
    img.table_vaddr = sec->addr;
    CHECK_FALSE(GoPclntab::parse_image(img, "go1.21.0").ok());
  }

  SECTION("random mutations never crash") {
    std::mt19937_64 rng(42);
    auto text = elf->section(".text");
    REQUIRE(text.has_value());
    for (int round = 0; round < 40; round++) {
      auto b = good;
      if (round % 4 == 3) b.resize(rng() % b.size());
      int flips = 1 + static_cast<int>(rng() % 200);
      for (int k = 0; k < flips && !b.empty(); k++) {
        size_t at = (round % 2 == 0) ? 72 + rng() % (b.size() > 72 ? b.size() - 72 : 1) : rng() % b.size();
        if (at < b.size()) b[at] = static_cast<uint8_t>(rng());
      }
      auto r = parse(b);
      if (!r.ok()) continue;
      const GoPclntab& t = r.value();
      for (int k = 0; k < 300; k++) {
        uint64_t pc = text->addr + rng() % text->size;
        auto fs = t.expand(pc);
        (void)t.lines(pc);
        if (auto f = t.find_function(pc)) (void)t.inline_index(*f, pc);
      }
      for (size_t i = 0; i < t.function_count(); i += 97) (void)t.function(i);
      (void)t.function_by_name("runtime.mallocgc");
    }
  }
}

TEST_CASE("GoPclntab parses lazily and fast", "[symbolize]") {
  auto elf = open_elf(fixture("symtarget"));
  auto t0 = std::chrono::steady_clock::now();
  auto t = GoPclntab::parse(*elf);
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(t.ok());
  CHECK(t->function_by_name("main.main").has_value());
  auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  INFO("parse " << ms(t1 - t0) << " ms, name index " << ms(t2 - t1) << " ms");
  CHECK(ms(t1 - t0) < 50);
  CHECK(ms(t2 - t0) < 100);
}

TEST_CASE("Go version strings and names for print", "[symbolize]") {
  using mws::target::go_func_name_for_print;
  using mws::target::parse_go_version;
  CHECK(parse_go_version("go1.19.8") == std::make_pair(1, 19));
  CHECK(parse_go_version("go1.21rc2") == std::make_pair(1, 21));
  CHECK(parse_go_version("devel go1.23-abc123 Tue") == std::make_pair(1, 23));
  CHECK_FALSE(parse_go_version("").has_value());
  CHECK_FALSE(parse_go_version("go2").has_value());
  CHECK(go_func_name_for_print("main.F[go.shape.int]") == "main.F[...]");
  CHECK(go_func_name_for_print("main.(*T[go.shape.int]).M") == "main.(*T[...]).M");
  CHECK(go_func_name_for_print("main.F[...]") == "main.F[...]");
  CHECK(go_func_name_for_print("main.main") == "main.main");
  CHECK(go_func_name_for_print("weird[") == "weird[");
}
