// Reading the integers binaries are made of: little-endian words (amd64
// only, so host order) and Go's uvarints. One definition for the ELF, build
// info, .gopclntab and type readers.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace mws {

inline uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// An n-byte (1..8) little-endian unsigned integer.
inline uint64_t le_n(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// A uvarint at p (7 bits a byte, low first, high bit = more), advancing p.
// False when it runs to `end` or past 64 bits.
inline bool read_uvarint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (unsigned shift = 0; p < end && shift < 64; shift += 7) {
    const uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// The same at bytes[pos], advancing pos.
inline std::optional<uint64_t> read_uvarint(std::span<const uint8_t> bytes, size_t& pos) {
  if (pos > bytes.size()) return std::nullopt;
  const uint8_t* p = bytes.data() + pos;
  uint64_t v = 0;
  if (!read_uvarint(p, bytes.data() + bytes.size(), v)) return std::nullopt;
  pos = static_cast<size_t>(p - bytes.data());
  return v;
}

}  // namespace mws
