// Route sites (src/probes/route_sites.h) found in real binaries, checked
// with Capstone and the Go toolchain's own disassembler: ServeMux on every
// Go version of the matrix, gin, chi, echo and gorilla/mux on the
// framework fixtures, stripped or not, and hostile sizes refused.
#include <capstone/capstone.h>
#include <elf.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "go_objdump.h"
#include "fixture_builds.h"
#include "probes/route_sites.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "target/gopclntab.h"

using namespace mws;

namespace {

struct Loaded {
  std::unique_ptr<target::ElfFile> exe;
  target::GoBuildInfo build;
  std::unique_ptr<target::GoFunctionIndex> index;
  probes::RouteSites sites;
};

Loaded load(const std::string& path) {
  INFO(path);
  auto elf = target::ElfFile::open(path);
  REQUIRE(elf);
  Loaded l;
  l.exe = std::move(*elf);
  auto build = target::read_go_buildinfo(*l.exe);
  REQUIRE(build);
  l.build = *build;
  l.index = std::make_unique<target::GoFunctionIndex>(*l.exe, l.build.version, path);
  l.sites = probes::find_route_sites(*l.exe, *l.index, l.build);
  return l;
}

std::string fixture(const std::string& name) { return std::string(MWS_FIXTURE_DIR) + "/" + name; }

// The instruction at `vaddr`, decoded by Capstone.
struct Decoded {
  unsigned id = X86_INS_INVALID;
  std::vector<uint8_t> bytes;
  uint64_t call_target = 0;  // CALL rel32
  std::string text;
};
Decoded decode_at(const target::ElfFile& exe, uint64_t vaddr) {
  auto code = exe.read_vaddr(vaddr, 16);
  REQUIRE(code.size() == 16);
  csh h;
  REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK);
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = nullptr;
  REQUIRE(cs_disasm(h, code.data(), code.size(), vaddr, 1, &insn) == 1);
  Decoded d;
  d.id = insn->id;
  d.bytes.assign(insn->bytes, insn->bytes + insn->size);
  d.text = std::string(insn->mnemonic) + " " + insn->op_str;
  if (insn->id == X86_INS_CALL && insn->detail->x86.op_count == 1 && insn->detail->x86.operands[0].type == X86_OP_IMM)
    d.call_target = uint64_t(insn->detail->x86.operands[0].imm);
  cs_free(insn, 1);
  cs_close(&h);
  return d;
}

// What the kernel emulates instead of single-stepping.
bool emulated(const Decoded& d) {
  const auto& b = d.bytes;
  return (b.size() == 1 && b[0] == 0x90) || (b.size() == 2 && (b[0] == 0xEB || (b[0] >= 0x70 && b[0] <= 0x7F))) ||
         (b.size() == 5 && (b[0] == 0xE8 || b[0] == 0xE9)) ||
         (b.size() == 6 && b[0] == 0x0F && b[1] >= 0x80 && b[1] <= 0x8F);
}

uint64_t entry_of(const Loaded& l, const std::string& name) {
  auto fn = l.index->find(name);
  REQUIRE(fn);
  return fn->entry;
}

std::vector<const probes::RouteSite*> sites_of(const Loaded& l, uint32_t router) {
  std::vector<const probes::RouteSite*> out;
  for (const auto& s : l.sites.sites)
    if (s.spec.router == router) out.push_back(&s);
  return out;
}

using test::objdump;

// The Go disassembler's line for the instruction at `vaddr`.
std::string objdump_line(const std::string& dis, uint64_t vaddr) {
  char addr[32];
  snprintf(addr, sizeof(addr), "\t0x%lx\t", static_cast<unsigned long>(vaddr));
  auto at = dis.find(addr);
  REQUIRE(at != std::string::npos);
  return dis.substr(at, dis.find('\n', at) - at);
}

bool same_spec(const mws_route_site& a, const mws_route_site& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The route sites must not depend on .symtab or DWARF.
void check_stripped_agrees(const Loaded& full, const Loaded& stripped, uint32_t router) {
  auto a = sites_of(full, router), b = sites_of(stripped, router);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); i++) {
    CHECK(a[i]->probe.vaddr == b[i]->probe.vaddr);
    CHECK(a[i]->probe.file_offset == b[i]->probe.file_offset);
    CHECK(a[i]->probe.placement == b[i]->probe.placement);
    CHECK(same_spec(a[i]->spec, b[i]->spec));
  }
}

}  // namespace

TEST_CASE("ServeMux route sites on every Go version", "[unit][routes]") {
  for (const std::string& build : test::fixture_builds()) {
    const std::string bin = fixture(build + "allocserver");
    INFO(bin);
    Loaded l = load(bin);
    INFO(l.build.version);
    CHECK(l.sites.refused.empty());
    for (const auto& r : l.sites.refused) WARN(r);
    const std::string dis = objdump(bin, "net/http.\\(\\*ServeMux\\).ServeHTTP");
    auto ver = target::parse_go_version(l.build.version);
    REQUIRE(ver);
    auto mux = sites_of(l, MWS_ROUTER_SERVEMUX), path = sites_of(l, MWS_ROUTER_SERVEMUX_PATH);
    for (const auto* s : mux) CHECK(s->router == "net/http.ServeMux");
    for (const auto* s : path) CHECK(s->router == "net/http.ServeMux");
    if (*ver < std::make_pair(1, 22)) {
      // The instruction after CALL (*ServeMux).Handler: single-stepped,
      // the only place the pattern is in registers.
      REQUIRE(mux.empty());
      REQUIRE(path.size() == 1);
      const auto& s = *path.front();
      Decoded call = decode_at(*l.exe, s.probe.vaddr - 5);
      CHECK(call.call_target == entry_of(l, "net/http.(*ServeMux).Handler"));
      CHECK(objdump_line(dis, s.probe.vaddr - 5).find("CALL net/http.(*ServeMux).Handler(SB)") != std::string::npos);
      CHECK(s.probe.placement.find("single-stepped") != std::string::npos);
      CHECK(s.spec.reg == MWS_REG_CX);
      CHECK(s.spec.len_reg == MWS_REG_DI);
      CHECK(s.spec.match_reg == MWS_REG_NONE);
      CHECK(s.spec.shape == MWS_ROUTE_STRING_REGS);
      REQUIRE(s.spec.request_at == MWS_REQ_STACK);
      char spill[64];
      snprintf(spill, sizeof(spill), "MOVQ DI, 0x%x(SP)", s.spec.request_off);
      CHECK(dis.find(spill) != std::string::npos);
      continue;
    }
    // Go 1.22+: after CALL (*ServeMux).findHandler, an emulated jcc or NOP.
    REQUIRE(mux.size() == 1);
    const auto& s = *mux.front();
    Decoded at = decode_at(*l.exe, s.probe.vaddr);
    INFO(at.text);
    CHECK(emulated(at));
    CHECK(s.probe.file_offset == *l.exe->vaddr_to_offset(s.probe.vaddr));
    const std::string line = objdump_line(dis, s.probe.vaddr);
    INFO(line);
    CHECK((line.find("\tJE ") != std::string::npos || line.find("\tJNE ") != std::string::npos ||
           line.find("\tNOPL\t") != std::string::npos));
    // The CALL is within the 8 instructions before, found by the Go
    // disassembler too.
    bool call_before = false;
    for (uint64_t back = 5; back <= 40; back++) {
      auto code = l.exe->read_vaddr(s.probe.vaddr - back, 5);
      if (code[0] == 0xE8 && decode_at(*l.exe, s.probe.vaddr - back).call_target ==
                                 entry_of(l, "net/http.(*ServeMux).findHandler")) {
        call_before = objdump_line(dis, s.probe.vaddr - back).find("CALL net/http.(*ServeMux).findHandler(SB)") !=
                      std::string::npos;
        break;
      }
    }
    CHECK(call_before);
    CHECK(s.spec.shape == MWS_ROUTE_STRING_REGS);
    CHECK(s.spec.reg == MWS_REG_CX);
    CHECK(s.spec.len_reg == MWS_REG_DI);
    CHECK(s.spec.match_reg == MWS_REG_SI);
    if (*ver == std::make_pair(1, 22)) {
      CHECK(s.spec.request_at == MWS_REQ_STACK);
      CHECK(s.spec.request_off == 0x68);
    } else {
      // 1.23+ reload r into RDX (to store r.Pattern) before the site.
      CHECK(s.spec.request_at == MWS_REQ_REG);
      CHECK(s.spec.request_reg == MWS_REG_DX);
    }
    // httpmuxgo121: after CALL (*serveMux121).findHandler. 1.22 reloads r
    // into RDI (the pattern's length) before its JMP: the return site.
    REQUIRE(path.size() == 1);
    const auto& p = *path.front();
    Decoded pat = decode_at(*l.exe, p.probe.vaddr);
    const std::string pline = objdump_line(dis, p.probe.vaddr);
    INFO(pline);
    CHECK(p.spec.reg == MWS_REG_CX);
    CHECK(p.spec.len_reg == MWS_REG_DI);
    CHECK(p.spec.match_reg == MWS_REG_NONE);
    if (*ver == std::make_pair(1, 22)) {
      CHECK(decode_at(*l.exe, p.probe.vaddr - 5).call_target == entry_of(l, "net/http.(*serveMux121).findHandler"));
      CHECK(p.probe.placement.find("single-stepped") != std::string::npos);
      CHECK(p.spec.request_at == MWS_REQ_STACK);
    } else {
      CHECK(emulated(pat));
      CHECK(pline.find("\tJMP ") != std::string::npos);
      CHECK(p.spec.request_at == MWS_REQ_REG);
      CHECK(p.spec.request_reg == MWS_REG_DX);
    }
  }
}

TEST_CASE("stripped allocserver has the same ServeMux route sites", "[unit][routes]") {
  Loaded full = load(fixture("allocserver")), stripped = load(fixture("allocserver_stripped"));
  REQUIRE(!full.sites.sites.empty());
  CHECK(stripped.sites.refused == full.sites.refused);
  check_stripped_agrees(full, stripped, MWS_ROUTER_SERVEMUX);
  check_stripped_agrees(full, stripped, MWS_ROUTER_SERVEMUX_PATH);
}

TEST_CASE("url.URL's Path and RawPath (echo's 404 check) match the DWARF of every Go version", "[unit][routes]") {
  for (const std::string& build : test::fixture_builds()) {
    const std::string bin = fixture(build + "allocserver");
    INFO(bin);
    auto elf = target::ElfFile::open(bin);
    REQUIRE(elf);
    auto info = target::read_go_buildinfo(**elf);
    REQUIRE(info);
    auto ver = target::parse_go_version(info->version);
    REQUIRE(ver);
    auto url = target::go_member_offset_from_dwarf(**elf, "net/http.Request", "URL");
    auto method = target::go_member_offset_from_dwarf(**elf, "net/http.Request", "Method");
    auto path = target::go_member_offset_from_dwarf(**elf, "net/url.URL", "Path");
    auto raw = target::go_member_offset_from_dwarf(**elf, "net/url.URL", "RawPath");
    REQUIRE((url && method && path && raw));
    CHECK(*method == 0);
    CHECK(*url == 0x10);
    CHECK(*path == 0x38);
    CHECK(*raw == (ver->second >= 26 ? 0x68 : 0x48));
  }
}

namespace {

struct FrameworkCase {
  const char* binary;
  uint32_t router;
  const char* name;
  const char* dispatch;
  const char* callee;
};

}  // namespace

TEST_CASE("framework route sites: gin, chi, echo, gorilla/mux", "[unit][routes]") {
  const FrameworkCase cases[] = {
      {"ginserver", MWS_ROUTER_GIN, "gin", "github.com/gin-gonic/gin.(*Engine).ServeHTTP", "sync.(*Pool).Put"},
      {"chiserver", MWS_ROUTER_CHI, "chi", "github.com/go-chi/chi/v5.(*Mux).ServeHTTP", "sync.(*Pool).Put"},
      {"echoserver", MWS_ROUTER_ECHO, "echo", "github.com/labstack/echo/v4.(*Echo).ServeHTTP", "sync.(*Pool).Put"},
      {"glueserver", MWS_ROUTER_GORILLA, "gorilla/mux", "github.com/gorilla/mux.(*Router).ServeHTTP",
       "github.com/gorilla/mux.requestWithRoute"},
  };
  for (const auto& c : cases) {
    INFO(c.binary);
    Loaded l = load(fixture(c.binary));
    for (const auto& r : l.sites.refused) WARN(r);
    CHECK(l.sites.refused.empty());
    auto sites = sites_of(l, c.router);
    REQUIRE(sites.size() == 1);
    const auto& s = *sites.front();
    CHECK(s.router == c.name);
    // A CALL rel32 to the callee, inside the dispatch function.
    Decoded at = decode_at(*l.exe, s.probe.vaddr);
    CHECK(at.id == X86_INS_CALL);
    CHECK(at.bytes.size() == 5);
    CHECK(at.call_target == entry_of(l, c.callee));
    auto fn = l.index->find(c.dispatch);
    REQUIRE(fn);
    CHECK((s.probe.vaddr >= fn->entry && s.probe.vaddr < fn->entry + fn->size));
    CHECK(s.probe.file_offset == *l.exe->vaddr_to_offset(s.probe.vaddr));
    CHECK(s.spec.match_reg == MWS_REG_NONE);
    switch (c.router) {
      case MWS_ROUTER_GIN:  // RCX = *gin.Context: fullPath +0x70, Request +0x20 (gin 1.8.1)
        CHECK(s.spec.shape == MWS_ROUTE_STRING_AT);
        CHECK(s.spec.reg == MWS_REG_CX);
        CHECK(s.spec.deref_off == -1);
        CHECK(s.spec.pattern_off == 0x70);
        CHECK(s.spec.request_at == MWS_REQ_FIELD);
        CHECK(s.spec.request_off == 0x20);
        CHECK(s.spec.url_off == -1);
        break;
      case MWS_ROUTER_CHI:  // RCX = *chi.Context: RoutePatterns +0xb0, RouteMethod +0x30 (chi 5.0.7)
        CHECK(s.spec.shape == MWS_ROUTE_STRINGS_AT);
        CHECK(s.spec.reg == MWS_REG_CX);
        CHECK(s.spec.deref_off == -1);
        CHECK(s.spec.pattern_off == 0xb0);
        CHECK(s.spec.request_at == MWS_REQ_METHOD_FIELD);
        CHECK(s.spec.request_off == 0x30);
        CHECK(s.spec.url_off == -1);
        break;
      case MWS_ROUTER_ECHO:  // RCX = *echo.context: path +0x10, request +0 (echo 4.2.1); go1.19 URL
        CHECK(s.spec.shape == MWS_ROUTE_STRING_AT);
        CHECK(s.spec.reg == MWS_REG_CX);
        CHECK(s.spec.deref_off == -1);
        CHECK(s.spec.pattern_off == 0x10);
        CHECK(s.spec.request_at == MWS_REQ_FIELD);
        CHECK(s.spec.request_off == 0);
        CHECK(s.spec.url_off == 0x10);
        CHECK(s.spec.url_path_off == 0x38);
        CHECK(s.spec.url_rawpath_off == 0x48);
        break;
      case MWS_ROUTER_GORILLA:  // RAX req, RBX *Route: *(Route+0x50) = *routeRegexp, template at +0
        CHECK(s.spec.shape == MWS_ROUTE_STRING_AT);
        CHECK(s.spec.reg == MWS_REG_BX);
        CHECK(s.spec.deref_off == 0x50);
        CHECK(s.spec.pattern_off == 0);
        CHECK(s.spec.request_at == MWS_REQ_REG);
        CHECK(s.spec.request_reg == MWS_REG_AX);
        CHECK(s.spec.url_off == -1);
        break;
    }
    // The Go disassembler agrees on the CALL.
    const std::string line = objdump_line(objdump(fixture(c.binary), [&] {
                                            std::string re;
                                            for (char ch : std::string(c.dispatch)) {
                                              if (ch == '(' || ch == ')' || ch == '*' || ch == '.') re += '\\';
                                              re += ch;
                                            }
                                            return re;
                                          }()),
                                          s.probe.vaddr);
    CHECK(line.find(std::string("CALL ") + c.callee + "(SB)") != std::string::npos);
    // Every net/http server also has a ServeMux (DefaultServeMux).
    CHECK(sites_of(l, MWS_ROUTER_SERVEMUX_PATH).size() == 1);
  }
}

TEST_CASE("stripped framework binaries: same sites from .gopclntab and .go.buildinfo", "[unit][routes]") {
  for (const char* name : {"chiserver", "echoserver", "glueserver"}) {
    INFO(name);
    Loaded full = load(fixture(name)), stripped = load(fixture(std::string(name) + "_stripped"));
    REQUIRE(!stripped.exe->has_symtab());
    CHECK(stripped.sites.refused.empty());
    for (uint32_t router : {MWS_ROUTER_SERVEMUX_PATH, MWS_ROUTER_CHI, MWS_ROUTER_ECHO, MWS_ROUTER_GORILLA})
      check_stripped_agrees(full, stripped, router);
    CHECK(stripped.sites.sites.size() == 2);
  }
  // gin built in GOPATH mode has no module version; without DWARF its
  // Context layout is unknown: refused, never guessed.
  Loaded gin = load(fixture("ginserver_stripped"));
  CHECK(sites_of(gin, MWS_ROUTER_GIN).empty());
  REQUIRE(gin.sites.refused.size() == 1);
  CHECK(gin.sites.refused.front().find("gin") == 0);
  INFO(gin.sites.refused.front());
  CHECK(gin.sites.refused.front().find("without a module version") != std::string::npos);
}

namespace {

// The number after `prefix` in a Go disassembler line ("0x1b8" of
// "MOVQ 0x1b8(SP), CX", "$0x438" of "SUBQ $0x438, SP").
int64_t hex_after(const std::string& line, const std::string& prefix) {
  auto at = line.find(prefix);
  REQUIRE(at != std::string::npos);
  return std::stoll(line.substr(at + prefix.size()), nullptr, 16);
}

// Where (*conn).serve keeps the response, read from `go tool objdump`
// alone: the last "MOVQ disp(SP), CX" before the CALL of
// serverHandler.ServeHTTP, and the frame from the prologue.
void check_request_key_site(const std::string& bin) {
  INFO(bin);
  Loaded l = load(bin);
  auto key = probes::find_request_key_site(*l.exe, *l.index);
  INFO((key ? "" : key.error().message));
  REQUIRE(key);
  const std::string dis = objdump(bin, "net/http.\\(\\*conn\\).serve");
  std::vector<std::string> lines;
  for (size_t at = 0, nl; at < dis.size(); at = nl + 1) {
    nl = dis.find('\n', at);
    if (nl == std::string::npos) nl = dis.size();
    lines.push_back(dis.substr(at, nl - at));
  }
  size_t call = lines.size();
  for (size_t i = 0; i < lines.size(); i++)
    if (lines[i].find("CALL net/http.serverHandler.ServeHTTP(SB)") != std::string::npos) {
      CHECK(call == lines.size());  // once
      call = i;
    }
  REQUIRE(call < lines.size());
  CHECK(objdump_line(dis, key->ret - 5).find("CALL net/http.serverHandler.ServeHTTP(SB)") != std::string::npos);
  int64_t disp = -1;
  for (size_t i = call; i-- > 0 && disp < 0;)
    if (lines[i].find("(SP), CX") != std::string::npos && lines[i].find("MOVQ 0x") != std::string::npos)
      disp = hex_after(lines[i], "MOVQ 0x");
  REQUIRE(disp > 0);
  // w.req, passed in DI: "MOVQ 0x8(CX), DI".
  int64_t req_off = -1;
  for (size_t i = call; i-- > 0 && req_off < 0;)
    if (lines[i].find("(CX), DI") != std::string::npos && lines[i].find("MOVQ 0x") != std::string::npos)
      req_off = hex_after(lines[i], "MOVQ 0x");
  CHECK(key->req_off == req_off);
  bool pushed_bp = false;
  int64_t sub = -1;
  for (size_t i = 0; i < lines.size() && sub < 0; i++) {
    pushed_bp = pushed_bp || lines[i].find("PUSHQ BP") != std::string::npos;
    if (lines[i].find("SUBQ $0x") != std::string::npos && lines[i].find(", SP") != std::string::npos)
      sub = hex_after(lines[i], "SUBQ $0x");
  }
  REQUIRE(sub > 0);
  // PUSHQ BP; MOVQ SP, BP; SUBQ $N, SP: BP = SP + N. SUBQ $N, SP; MOVQ BP,
  // N-8(SP); LEAQ N-8(SP), BP: BP = SP + N - 8.
  const int64_t bp_from_sp = pushed_bp ? sub : sub - 8;
  CHECK(key->w_bp_off == disp - bp_from_sp);
}

}  // namespace

TEST_CASE("(*conn).serve's response slot (sampled mode's request key) on every Go version, stripped too",
          "[unit][routes]") {
  for (const std::string& build : test::fixture_builds()) check_request_key_site(fixture(build + "allocserver"));
  for (const char* name : {"ginserver", "chiserver", "echoserver", "glueserver"}) check_request_key_site(fixture(name));
  // Real servers Debian ships (stripped, no objdump): found, and inside conn.serve's frame.
  for (const char* path : {"/usr/bin/prometheus", "/usr/bin/caddy"}) {
    INFO(path << " (scripts/install-deps.sh installs it)");
    REQUIRE(std::filesystem::exists(path));
    Loaded l = load(path);
    auto key = probes::find_request_key_site(*l.exe, *l.index);
    INFO((key ? "" : key.error().message));
    REQUIRE(key);
    auto serve = l.index->find("net/http.(*conn).serve");
    REQUIRE(serve);
    CHECK(key->ret > serve->entry);
    CHECK(key->ret < serve->entry + serve->size);
    CHECK(key->w_bp_off < 0);
    CHECK(key->req_off == 8);  // net/http.response: conn, then req, in every Go since 1.0
  }
  // Stripped (no symbols for objdump): the same site as the build with them.
  for (const char* name : {"allocserver", "ginserver", "chiserver", "echoserver", "glueserver"}) {
    const std::string full = fixture(name), stripped = fixture(std::string(name) + "_stripped");
    INFO(stripped);
    Loaded a = load(full), b = load(stripped);
    auto ka = probes::find_request_key_site(*a.exe, *a.index), kb = probes::find_request_key_site(*b.exe, *b.index);
    REQUIRE(ka);
    REQUIRE(kb);
    CHECK(ka->ret == kb->ret);
    CHECK(ka->w_bp_off == kb->w_bp_off);
    CHECK(ka->req_off == kb->req_off);
  }
}

TEST_CASE("a binary without net/http has no request key site", "[unit][routes]") {
  for (const char* name : {"symtarget", "symtarget_stripped"}) {
    INFO(name);
    Loaded l = load(fixture(name));
    CHECK_FALSE(probes::find_request_key_site(*l.exe, *l.index));
  }
}

TEST_CASE("a binary without routers has no route sites and no refusals", "[unit][routes]") {
  for (const char* name : {"symtarget", "symtarget_stripped", "tinyalloc"}) {
    INFO(name);
    if (!std::filesystem::exists(fixture(name))) continue;  // tinyalloc is not a unit fixture
    Loaded l = load(fixture(name));
    CHECK(l.sites.sites.empty());
    CHECK(l.sites.refused.empty());
  }
}

namespace {

// A copy of `from` where the .symtab size of `symbol` is `size`.
std::string with_symbol_size(const std::string& from, const std::string& symbol, uint64_t size) {
  std::ifstream in(from, std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(data.size() > sizeof(Elf64_Ehdr));
  auto* eh = reinterpret_cast<Elf64_Ehdr*>(data.data());
  auto* sh = reinterpret_cast<Elf64_Shdr*>(data.data() + eh->e_shoff);
  bool patched = false;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    const char* strtab = data.data() + sh[sh[i].sh_link].sh_offset;
    auto* syms = reinterpret_cast<Elf64_Sym*>(data.data() + sh[i].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++)
      if (symbol == strtab + syms[k].st_name) {
        syms[k].st_size = size;
        patched = true;
      }
  }
  REQUIRE(patched);
  const std::string to = std::filesystem::temp_directory_path() / ("mws_route_sites_" + std::to_string(getpid()));
  std::ofstream(to, std::ios::binary).write(data.data(), std::streamsize(data.size()));
  return to;
}

}  // namespace

TEST_CASE("a dispatch function with a hostile size is refused, not read", "[unit][routes]") {
  for (uint64_t size : {uint64_t{1} << 40, uint64_t{65} << 10, ~uint64_t{0}}) {
    INFO(size);
    const std::string bin = with_symbol_size(fixture("chiserver"), "github.com/go-chi/chi/v5.(*Mux).ServeHTTP", size);
    Loaded l = load(bin);
    std::filesystem::remove(bin);
    CHECK(sites_of(l, MWS_ROUTER_CHI).empty());
    REQUIRE(l.sites.refused.size() == 1);
    CHECK(l.sites.refused.front().find("chi: github.com/go-chi/chi/v5.(*Mux).ServeHTTP claims") == 0);
    CHECK(sites_of(l, MWS_ROUTER_SERVEMUX_PATH).size() == 1);  // the other routers are unaffected
  }
  // A size that ends the function early cuts the CALL off: refused too.
  const std::string bin = with_symbol_size(fixture("ginserver"), "github.com/gin-gonic/gin.(*Engine).ServeHTTP", 16);
  Loaded l = load(bin);
  std::filesystem::remove(bin);
  CHECK(sites_of(l, MWS_ROUTER_GIN).empty());
  REQUIRE(l.sites.refused.size() == 1);
  CHECK(l.sites.refused.front().find("calls sync.(*Pool).Put 0 times") != std::string::npos);
}

TEST_CASE("a framework version mwscope has not verified is refused, not guessed", "[unit][routes]") {
  // chiserver_stripped with its modinfo saying chi v5.0.9: no DWARF to
  // fall back on, no table row.
  std::ifstream in(fixture("chiserver_stripped"), std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string from = "github.com/go-chi/chi/v5\tv5.0.7", to = "github.com/go-chi/chi/v5\tv5.0.9";
  size_t at = data.find(from);
  REQUIRE(at != std::string::npos);
  for (; at != std::string::npos; at = data.find(from, at)) data.replace(at, from.size(), to);
  const std::string bin = std::filesystem::temp_directory_path() / ("mws_route_sites_v_" + std::to_string(getpid()));
  std::ofstream(bin, std::ios::binary).write(data.data(), std::streamsize(data.size()));
  Loaded l = load(bin);
  std::filesystem::remove(bin);
  CHECK(sites_of(l, MWS_ROUTER_CHI).empty());
  REQUIRE(l.sites.refused.size() == 1);
  INFO(l.sites.refused.front());
  CHECK(l.sites.refused.front().find("chi: github.com/go-chi/chi/v5 v5.0.9: layout unknown") == 0);
}
