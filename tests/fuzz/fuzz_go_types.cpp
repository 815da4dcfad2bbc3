// libFuzzer target for Go type names read from a target's type data
// (src/target/go_types.cpp: the descriptors mallocgc's type pointers name,
// and their name strings). Input:
//   u32 types_off    the types base, as an offset from kRodata (may be out of it)
//   u8  n            type pointers to name (at most 16)
//   n x {u32 off, u64 alloc_size}  each type pointer, as an offset from kRodata
//   the rest         .rodata at kRodata
// The bytes go into a small ELF whose .symtab names runtime.types. What
// must hold: no crash, no sanitizer report, names with no control bytes.
//
//   build/fuzz/fuzz_go_types build/fuzz/go_types_work build/fuzz/go_types_seeds
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "target/go_types.h"
#include "tiny_elf.h"

namespace {
constexpr uint64_t kRodata = 0x400000;

template <typename T>
T take(const uint8_t*& p, const uint8_t* end) {
  T v{};
  const size_t n = std::min<size_t>(sizeof(T), static_cast<size_t>(end - p));
  std::memcpy(&v, p, n);
  p += n;
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t *p = data, *end = data + size;
  const uint32_t types_off = take<uint32_t>(p, end);
  const size_t n = std::min<size_t>(take<uint8_t>(p, end), 16);
  std::vector<std::pair<uint64_t, uint64_t>> types;
  for (size_t i = 0; i < n; i++) {
    const uint32_t off = take<uint32_t>(p, end);
    types.emplace_back(kRodata + off, take<uint64_t>(p, end));
  }
  std::vector<uint8_t> rodata(p, end);
  auto elf = mws::fuzz::open_tiny_elf(mws::fuzz::make_tiny_elf({{".rodata", kRodata, rodata.data(), rodata.size(), false}},
                                                               {{"runtime.types", kRodata + types_off}}));
  if (!elf) return 0;
  auto base = mws::target::find_types_base(*elf, nullptr, "go1.19.8");
  if (!base || *base != kRodata + types_off) __builtin_trap();
  mws::target::GoTypeNamer namer(*elf, *base);
  for (int pass = 0; pass < 2; pass++)  // the second from the cache
    for (const auto& [addr, alloc] : types)
      for (unsigned char c : namer.name(addr, alloc))
        if (c < 0x20 || c == 0x7f) __builtin_trap();
  return 0;
}
