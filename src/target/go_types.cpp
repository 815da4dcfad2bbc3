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

std::optional<uint64_t> read_u64(const ElfFile& exe, uint64_t vaddr) {
  auto b = exe.read_vaddr(vaddr, 8);
  if (b.size() != 8) return std::nullopt;
  uint64_t v;
  std::memcpy(&v, b.data(), 8);
  return v;
}

}  // namespace

std::optional<uint64_t> find_types_base(const ElfFile& exe, const std::string& go_version) {
  if (auto sym = exe.find_symbol("runtime.types")) return sym->value;
  auto facts = go_function_facts(go_version);
  auto pclntab = exe.section(".gopclntab");
  auto text = exe.section(".text");
  auto rodata = exe.section(".rodata");
  if (!facts || !pclntab || !text || !rodata) return std::nullopt;
  for (const char* name : {".noptrdata", ".data"}) {
    auto sec = exe.section(name);
    if (!sec) continue;
    auto bytes = exe.read_vaddr(sec->addr, sec->size);
    for (size_t at = 0; at + 8 <= bytes.size(); at += 8) {
      uint64_t word;
      std::memcpy(&word, bytes.data() + at, 8);
      if (word != pclntab->addr) continue;
      // A pointer to .gopclntab: firstmoduledata if its text lies in .text
      // (externally linked binaries, cgo ones, start .text with C code) and
      // its types in .rodata.
      const uint64_t md = sec->addr + at;
      auto md_text = read_u64(exe, md + uint64_t(facts->moduledata_text_offset));
      auto types = read_u64(exe, md + uint64_t(facts->moduledata_types_offset));
      if (md_text && *md_text >= text->addr && *md_text < text->addr + text->size && types &&
          *types >= rodata->addr && *types < rodata->addr + rodata->size)
        return *types;
    }
  }
  return std::nullopt;
}

GoTypeNamer::GoTypeNamer(const ElfFile& exe, const std::string& go_version) : exe_(exe) {
  types_base_ = find_types_base(exe, go_version).value_or(0);
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
