// Go type names from the executable's type data: the types base found in
// stripped binaries (moduledata.types), checked against the symbol, against
// DWARF's moduledata layout, and on a real third-party binary.
#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fixture_builds.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_types.h"
#include "target/gopclntab.h"

using namespace mws;

namespace {

std::unique_ptr<target::ElfFile> open_binary(const std::string& path) {
  auto elf = target::ElfFile::open(path);
  INFO(path << ": " << (elf ? "" : elf.error().message));
  REQUIRE(elf);
  return std::move(*elf);
}

std::string version_of(const target::ElfFile& elf) {
  auto bi = target::read_go_buildinfo(elf);
  REQUIRE(bi);
  return bi->version;
}

// Every type the linker lists in .typelink (offsets from the types base),
// named through GoTypeNamer.
target::GoPclntab table_of(const target::ElfFile& elf) {
  auto table = target::GoPclntab::parse(elf, version_of(elf));
  REQUIRE(table);
  return std::move(*table);
}

std::vector<std::string> typelink_names(const target::ElfFile& elf, uint64_t types_base) {
  auto sec = elf.section(".typelink");
  REQUIRE(sec);
  auto bytes = elf.read_vaddr(sec->addr, sec->size);
  target::GoTypeNamer namer(elf, types_base);
  std::vector<std::string> out;
  for (size_t at = 0; at + 4 <= bytes.size(); at += 4) {
    int32_t off;
    std::memcpy(&off, bytes.data() + at, 4);
    out.push_back(namer.name(types_base + uint64_t(off), 0));
  }
  return out;
}

}  // namespace

TEST_CASE("the types base of a stripped binary, from moduledata, equals runtime.types", "[goabi]") {
  auto full = open_binary(std::string(MWS_FIXTURE_DIR) + "/allocserver");
  auto stripped = open_binary(std::string(MWS_FIXTURE_DIR) + "/allocserver_stripped");
  REQUIRE_FALSE(stripped->has_symtab());
  auto sym = full->find_symbol("runtime.types");
  REQUIRE(sym);
  const auto table = table_of(*stripped);
  auto base = target::find_types_base(*stripped, &table, version_of(*stripped));
  REQUIRE(base);
  // -s -w keeps the sections' order: the same offset into .rodata.
  CHECK(*base - stripped->section(".rodata")->addr == sym->value - full->section(".rodata")->addr);
}

TEST_CASE("moduledata's types offset of the ABI table equals each toolchain's DWARF", "[goabi]") {
  for (const std::string& build : test::fixture_builds()) {
    INFO("build " << build);
    auto elf = open_binary(std::string(MWS_FIXTURE_DIR) + "/" + build + "allocserver");
    auto facts = target::go_function_facts(version_of(*elf));
    REQUIRE(facts);
    auto types = target::go_member_offset_from_dwarf(*elf, "runtime.moduledata", "types");
    REQUIRE(types);
    CHECK(*types == facts->moduledata_types_offset);
    // And the base read from moduledata, as a stripped binary needs it, is the symbol's.
    const auto table = table_of(*elf);
    REQUIRE(table.moduledata() == elf->find_symbol("runtime.firstmoduledata")->value);
    CHECK(target::types_base_from_moduledata(*elf, table, version_of(*elf)) ==
          elf->find_symbol("runtime.types")->value);
  }
}

TEST_CASE("Debian's caddy (stripped, cgo, externally linked): every listed type has its own name", "[goabi]") {
  // Externally linked: .rodata starts with C data, so the types base is not
  // its start; from there every name read was bytes of its neighbours.
  auto caddy = open_binary("/usr/bin/caddy");
  REQUIRE_FALSE(caddy->has_symtab());
  const auto table = table_of(*caddy);
  auto base = target::find_types_base(*caddy, &table, version_of(*caddy));
  REQUIRE(base);
  CHECK(*base != caddy->section(".rodata")->addr);
  const auto names = typelink_names(*caddy, *base);
  REQUIRE(names.size() > 1000);
  std::set<std::string> seen;
  for (const auto& n : names) {
    INFO(n);
    CHECK(n != "(unknown type)");
    for (char c : n) REQUIRE(static_cast<unsigned char>(c) >= 0x20);
    seen.insert(n);
  }
  CHECK(seen.count("*http.Request"));  // net/http's, in every Go HTTP server
}
