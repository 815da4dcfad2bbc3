// Where probes go, checked against the Go toolchain's own disassembler.
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "probes/prologue.h"
#include "probes/ret_finder.h"
#include "target/elf_file.h"

using namespace mws;

namespace {

std::string objdump(const std::string& binary, const std::string& func) {
  std::string cmd = "go tool objdump -s '^" + func + "$' " + binary + " 2>/dev/null";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  REQUIRE(!out.empty());
  return out;
}

size_t count_lines_containing(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) n++;
  return n;
}

}  // namespace

TEST_CASE("entry probes sit on the stack-check jump, RETs are all found", "[probes]") {
  const std::string bin = std::string(MWS_FIXTURE_DIR) + "/allocserver";
  auto elf = target::ElfFile::open(bin);
  REQUIRE(elf);
  for (const char* name : {"runtime.mallocgc", "runtime.goexit1"}) {
    INFO(name);
    auto sym = (*elf)->find_symbol(name);
    REQUIRE(sym);
    auto placement = probes::find_entry_probe_offset((*elf)->read_vaddr(sym->value, sym->size), sym->value);
    REQUIRE(placement.on_stack_check_jump);
    // The Go disassembler shows a JBE at exactly that address.
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(sym->value + placement.offset));
    std::string dis = objdump(bin, name);
    auto line_at = dis.find(addr);
    REQUIRE(line_at != std::string::npos);
    CHECK(dis.substr(line_at, dis.find('\n', line_at) - line_at).find("JBE") != std::string::npos);
  }
  auto newproc1 = (*elf)->find_symbol("runtime.newproc1");
  REQUIRE(newproc1);
  auto rets = probes::find_ret_instructions((*elf)->read_vaddr(newproc1->value, newproc1->size), newproc1->value);
  std::string dis = objdump(bin, "runtime.newproc1");
  CHECK(rets.size() == count_lines_containing(dis, "\tRET"));
  for (uint64_t r : rets) {
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%lx", static_cast<unsigned long>(r));
    CHECK(dis.find(addr) != std::string::npos);
  }
}

TEST_CASE("a function without the Go stack check keeps its probe at the entry", "[probes]") {
  // push rbp; mov rbp, rsp; ... (a C prologue)
  const uint8_t code[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x10, 0xc3};
  auto p = probes::find_entry_probe_offset(code, 0x1000);
  CHECK(p.offset == 0);
  CHECK_FALSE(p.on_stack_check_jump);
  CHECK(probes::find_ret_instructions(code, 0x1000) == std::vector<uint64_t>{0x1008});
}

#include "target/go_functions.h"

TEST_CASE("runtime.allgs found from runtime.allgadd's code equals the symbol", "[probes]") {
  auto elf = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  REQUIRE(elf);
  target::GoFunctionIndex index(**elf, "go1.19", "fixture");
  auto sym = (*elf)->find_symbol("runtime.allgs");
  REQUIRE(sym);
  CHECK(target::find_allgs_in_code(**elf, index) == sym->value);

  // The stripped build has no symbol: functions come from .gopclntab.
  auto stripped = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped");
  REQUIRE(stripped);
  REQUIRE_FALSE((*stripped)->has_symtab());
  target::GoFunctionIndex sindex(**stripped, "go1.19", "fixture");
  auto mallocgc = sindex.find("runtime.mallocgc");
  REQUIRE(mallocgc);
  CHECK(mallocgc->entry == (*elf)->find_symbol("runtime.mallocgc")->value);
  // -s -w shifts the data sections a little but keeps their order: allgs
  // sits at the same offset into .bss.
  const uint64_t bss_full = (*elf)->section(".bss")->addr, bss_stripped = (*stripped)->section(".bss")->addr;
  auto found = target::find_allgs(**stripped, sindex);
  REQUIRE(found);
  CHECK(*found - bss_stripped == sym->value - bss_full);
}

TEST_CASE("runtime.MemProfileRate found from runtime.profilealloc's code equals the symbol", "[probes]") {
  auto elf = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  REQUIRE(elf);
  target::GoFunctionIndex index(**elf, "go1.19", "fixture");
  auto sym = (*elf)->find_symbol("runtime.MemProfileRate");
  REQUIRE(sym);
  CHECK(target::find_mem_profile_rate_in_code(**elf, index) == sym->value);
}
