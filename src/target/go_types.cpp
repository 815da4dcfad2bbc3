#include "target/go_types.h"

#include <cstring>

#include "util/bytes.h"

namespace mws::target {
namespace {

constexpr uint64_t kTypeSizeOffset = 0;
constexpr uint64_t kTypeTflagOffset = 20;
constexpr uint64_t kTypeStrOffset = 40;
constexpr uint8_t kTflagExtraStar = 1 << 1;

}  // namespace

GoTypeNamer::GoTypeNamer(const ElfFile& exe) : exe_(exe) {
  if (auto sym = exe.find_symbol("runtime.types"))
    types_base_ = sym->value;
  else if (auto rodata = exe.section(".rodata"))
    types_base_ = rodata->addr;  // the linker puts runtime.types first in .rodata
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
  // flags byte, then a uvarint length (at most 3 bytes for any real name).
  auto name = exe_.read_vaddr(types_base_ + uint64_t(off), 4);
  if (name.size() < 2) return std::nullopt;
  size_t pos = 1;
  const uint64_t len = read_uvarint(name, pos).value_or(0);
  if (len == 0 || len > 4096) return std::nullopt;
  auto bytes = exe_.read_vaddr(types_base_ + uint64_t(off) + pos, len);
  if (bytes.size() != len) return std::nullopt;
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
