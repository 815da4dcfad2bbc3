#include "util/terminal_text.h"

#include <cstdint>

namespace mws {

namespace {

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when invalid
// (overlong, surrogate, beyond U+10FFFF, truncated). Sets *cp.
size_t utf8_length(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    *cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    *cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    *cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    const uint8_t cont = b(k);
    if (cont < (k == 1 ? lo : 0x80) || cont > (k == 1 ? hi : 0xBF)) return 0;
    *cp = (*cp << 6) | (cont & 0x3F);
  }
  return n;
}

bool unsafe_code_point(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

std::string terminal_safe(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_length(s, i, &cp);
    const bool bad = n == 0 || unsafe_code_point(cp);
    if (n == 0) n = 1;  // an invalid byte alone
    if (!bad) {
      out.append(s.substr(i, n));
    } else {
      for (size_t k = 0; k < n; k++) {
        const auto u = static_cast<uint8_t>(s[i + k]);
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 0xF];
      }
    }
    i += n;
  }
  return out;
}

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_length(s, i, &cp);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for the invalid byte
      i++;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace mws
