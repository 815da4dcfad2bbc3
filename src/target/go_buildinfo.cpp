#include "target/go_buildinfo.h"

#include "util/terminal_text.h"

#include <cstring>

#include "util/bytes.h"

namespace mws::target {
namespace {

constexpr char kMagic[] = "\xff Go buildinf:";
constexpr size_t kMagicLen = 14;
constexpr size_t kHeaderLen = 32;

// Reads a uvarint-length-prefixed string (Go 1.18+ inline format).
std::optional<std::string> read_varint_string(std::span<const uint8_t> d, size_t& pos) {
  auto len = read_uvarint(d, pos);
  if (!len || *len > d.size() - pos) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(d.data() + pos), *len);
  pos += *len;
  return s;
}

// Go < 1.18: the header holds pointers to Go string headers {ptr, len}.
std::optional<std::string> read_pointed_string(const ElfFile& elf, uint64_t str_hdr_addr, int ptr_size) {
  auto hdr = elf.read_vaddr(str_hdr_addr, 2 * ptr_size);
  if (hdr.size() != size_t(2 * ptr_size)) return std::nullopt;
  uint64_t ptr = le_n(hdr.data(), ptr_size), len = le_n(hdr.data() + ptr_size, ptr_size);
  if (len > (1u << 20)) return std::nullopt;
  auto bytes = elf.read_vaddr(ptr, len);
  if (bytes.size() != len) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(bytes.data()), len);
}

std::span<const uint8_t> find_header(const ElfFile& elf) {
  if (auto s = elf.section(".go.buildinfo")) {
    auto d = elf.section_data(*s);
    if (d.size() >= kHeaderLen && std::memcmp(d.data(), kMagic, kMagicLen) == 0) return d;
  }
  // No section headers: the header sits 16-byte aligned in a data segment.
  for (const auto& seg : elf.load_segments()) {
    if (seg.flags & 1 /* PF_X */) continue;
    auto d = elf.read_vaddr(seg.vaddr, seg.filesz);
    for (size_t i = 0; i + kHeaderLen <= d.size(); i += 16)
      if (std::memcmp(d.data() + i, kMagic, kMagicLen) == 0) return d.subspan(i);
  }
  return {};
}

}  // namespace

std::optional<GoBuildInfo> read_go_buildinfo(const ElfFile& elf) {
  auto d = find_header(elf);
  if (d.size() < kHeaderLen) return std::nullopt;
  int ptr_size = d[14];
  uint8_t flags = d[15];
  if (ptr_size != 4 && ptr_size != 8) return std::nullopt;
  GoBuildInfo info;
  if (flags & 0x2) {  // strings inline after the header (Go >= 1.18)
    size_t pos = kHeaderLen;
    auto v = read_varint_string(d, pos);
    if (!v) return std::nullopt;
    info.version = *v;
    if (auto m = read_varint_string(d, pos)) info.module_info = *m;
  } else {
    if (flags & 0x1) return std::nullopt;  // big-endian: not amd64
    auto v = read_pointed_string(elf, le_n(d.data() + 16, ptr_size), ptr_size);
    if (!v) return std::nullopt;
    info.version = *v;
    if (auto m = read_pointed_string(elf, le_n(d.data() + 16 + ptr_size, ptr_size), ptr_size))
      info.module_info = *m;
  }
  if (info.version.rfind("go", 0) != 0 && info.version.rfind("devel", 0) != 0) return std::nullopt;
  // The target wrote it: it reaches the terminal and the reports.
  info.version = terminal_safe(info.version);
  return info;
}

bool is_go_executable(const ElfFile& elf) {
  if (!elf.sections().empty())
    return elf.section(".go.buildinfo") || elf.section(".gopclntab") || elf.section(".note.go.buildid");
  return read_go_buildinfo(elf).has_value();
}

}  // namespace mws::target
