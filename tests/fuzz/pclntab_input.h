// The input format of fuzz_gopclntab: a PclntabImage (see
// src/target/gopclntab.h) as bytes, so the fuzzer mutates the table, the
// memory it points into and the addresses that tie them together.
// Shared by the harness (decode) and the seed generator (encode).
//
//   u8  flags        bit 0: gofunc given (else the reader searches moduledata)
//                    bits 1-3: index into kFuzzGoVersions
//                    bit 4: also wrap it all in an ELF file (see fuzz_gopclntab.cpp)
//                    bit 5: that ELF has no .gopclntab section header
//                    bit 6: that ELF is ET_DYN (PIE)
//                    bit 7: its .symtab names gofunc go:func.* (Go 1.20+), else go.func.*
//   u64 table_vaddr
//   u64 text_fallback
//   u64 gofunc
//   u64 probe_pc[2]  extra pcs the harness queries
//   u8  nregions     at most kFuzzMaxRegions
//   per region: u64 vaddr, u32 size, u8 writable, `size` bytes
//   the table: every byte left
//
// All little endian. A short input decodes with the missing fields zero and
// regions cut at the end of the input: every byte string is a valid input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace mws::fuzz {

inline constexpr std::string_view kFuzzGoVersions[8] = {
    "", "go1.16.15", "go1.19.8", "go1.21.4", "devel go1.23-abcdef", "go1.", "go1.99999", "go1.17"};
inline constexpr size_t kFuzzMaxRegions = 4;

struct FuzzRegion {
  uint64_t vaddr = 0;
  bool writable = false;
  std::vector<uint8_t> bytes;  // own allocation: ASan sees a read past its end
};

struct FuzzInput {
  uint8_t flags = 0;
  uint64_t table_vaddr = 0, text_fallback = 0, gofunc = 0;
  uint64_t probe_pc[2] = {};
  std::vector<FuzzRegion> regions;
  std::vector<uint8_t> table;  // own allocation, exact size

  bool has_gofunc() const { return flags & 1; }
  bool as_elf() const { return flags & 0x10; }
  bool elf_without_section() const { return flags & 0x20; }
  bool elf_pie() const { return flags & 0x40; }
  bool elf_colon_gofunc() const { return flags & 0x80; }
  std::string_view go_version() const { return kFuzzGoVersions[(flags >> 1) & 7]; }
};

class FuzzReader {
 public:
  explicit FuzzReader(std::span<const uint8_t> in) : in_(in) {}
  template <typename T>
  T get() {
    T v{};
    size_t n = std::min(sizeof(T), in_.size() - pos_);
    std::memcpy(&v, in_.data() + pos_, n);  // little endian host (amd64)
    pos_ += n;
    return v;
  }
  std::vector<uint8_t> take(size_t n) {
    n = std::min(n, in_.size() - pos_);
    std::vector<uint8_t> out(in_.begin() + static_cast<ptrdiff_t>(pos_), in_.begin() + static_cast<ptrdiff_t>(pos_ + n));
    pos_ += n;
    return out;
  }
  size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

inline FuzzInput decode_fuzz_input(std::span<const uint8_t> data) {
  FuzzReader r(data);
  FuzzInput in;
  in.flags = r.get<uint8_t>();
  in.table_vaddr = r.get<uint64_t>();
  in.text_fallback = r.get<uint64_t>();
  in.gofunc = r.get<uint64_t>();
  in.probe_pc[0] = r.get<uint64_t>();
  in.probe_pc[1] = r.get<uint64_t>();
  size_t nregions = std::min<size_t>(r.get<uint8_t>(), kFuzzMaxRegions);
  for (size_t i = 0; i < nregions; i++) {
    FuzzRegion reg;
    reg.vaddr = r.get<uint64_t>();
    uint32_t size = r.get<uint32_t>();
    reg.writable = r.get<uint8_t>() & 1;
    reg.bytes = r.take(size);
    in.regions.push_back(std::move(reg));
  }
  in.table = r.take(r.left());
  return in;
}

inline std::vector<uint8_t> encode_fuzz_input(const FuzzInput& in) {
  std::vector<uint8_t> out;
  auto put = [&out](const auto& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  };
  put(in.flags);
  put(in.table_vaddr);
  put(in.text_fallback);
  put(in.gofunc);
  put(in.probe_pc[0]);
  put(in.probe_pc[1]);
  put(static_cast<uint8_t>(in.regions.size()));
  for (const auto& reg : in.regions) {
    put(reg.vaddr);
    put(static_cast<uint32_t>(reg.bytes.size()));
    put(static_cast<uint8_t>(reg.writable ? 1 : 0));
    out.insert(out.end(), reg.bytes.begin(), reg.bytes.end());
  }
  out.insert(out.end(), in.table.begin(), in.table.end());
  return out;
}

}  // namespace mws::fuzz
