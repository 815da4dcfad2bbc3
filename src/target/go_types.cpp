#include "target/go_types.h"

#include <cstring>

#include "target/go_abi.h"
#include "util/bytes.h"

namespace mws::target {
namespace {

constexpr uint64_t kTypeSizeOffset = 0;
constexpr uint64_t kTypeTflagOffset = 20;
constexpr uint64_t kTypeStrOffset = 40;
constexpr uint8_t kTflagExtraStar = 1 << 1;

}  // namespace

std::optional<uint64_t> types_base_from_moduledata(const ElfFile& exe, const GoPclntab& table,
                                                   const std::string& go_version) {
  auto facts = go_function_facts(go_version);
  auto md = table.moduledata();
  if (!facts || !md) return std::nullopt;
  auto word = exe.read_vaddr(*md + uint64_t(facts->moduledata_types_offset), 8);
  if (word.size() != 8) return std::nullopt;
  uint64_t types;
  std::memcpy(&types, word.data(), 8);
  // Type descriptors live in .rodata (inside it, not at its start, when
  // externally linked: cgo binaries put C data first), or from go1.27 in
  // a section of their own, .go.type.
  for (const char* name : {".go.type", ".rodata"})
    if (auto sec = exe.section(name); sec && types >= sec->addr && types < sec->addr + sec->size) return types;
  return std::nullopt;
}

std::optional<uint64_t> find_types_base(const ElfFile& exe, const GoPclntab* table, const std::string& go_version) {
  if (auto sym = exe.find_symbol("runtime.types")) return sym->value;
  if (!table) return std::nullopt;
  return types_base_from_moduledata(exe, *table, go_version);
}

std::optional<uint64_t> GoTypeNamer::type_size(uint64_t type_addr) {
  auto b = exe_.read_vaddr(type_addr + kTypeSizeOffset, 8);
  if (b.size() != 8) return std::nullopt;
  uint64_t v;
  std::memcpy(&v, b.data(), 8);
  return v;
}

std::optional<std::string> GoTypeNamer::type_string(uint64_t type_addr) {
  auto hdr = exe_.read_vaddr(type_addr, kTypeStrOffset + 4);
  if (hdr.size() != kTypeStrOffset + 4 || types_base_ == 0) return std::nullopt;
  int32_t off;
  std::memcpy(&off, hdr.data() + kTypeStrOffset, 4);
  const uint8_t tflag = hdr[kTypeTflagOffset];
  if (off <= 0) return std::nullopt;
  // flags byte (exported, tag, pkgPath, embedded: the low 4 bits), then a
  // uvarint length (at most 3 bytes for any real name).
  auto name = exe_.read_vaddr(types_base_ + uint64_t(off), 4);
  if (name.size() < 2 || name[0] > 0x0f) return std::nullopt;
  size_t pos = 1;
  const uint64_t len = read_uvarint(name, pos).value_or(0);
  if (len == 0 || len > 4096) return std::nullopt;
  auto bytes = exe_.read_vaddr(types_base_ + uint64_t(off) + pos, len);
  if (bytes.size() != len) return std::nullopt;
  // A type's string is printable Go syntax; anything else means the base
  // or the offset is wrong: say unknown rather than show other bytes.
  for (uint8_t c : bytes)
    if (c < 0x20 || c == 0x7f) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(bytes.data()), len);
  if ((tflag & kTflagExtraStar) && !s.empty() && s[0] == '*') s.erase(0, 1);
  return s;
}

std::string GoTypeNamer::name(uint64_t type_addr, uint64_t alloc_size) {
  if (type_addr == 0) return "(no type)";
  auto it = cache_.find(type_addr);
  std::string base;
  if (it != cache_.end()) {
    base = it->second;
  } else {
    base = type_string(type_addr).value_or("(unknown type)");
    cache_.emplace(type_addr, base);
  }
  // makeslice/growslice pass the element type: a block of several
  // elements is a slice's backing array.
  auto elem = type_size(type_addr);
  if (elem && *elem > 0 && alloc_size >= 2 * *elem) return "[]" + base;
  return base;
}

}  // namespace mws::target
