// libFuzzer target for the reader of Go's build information
// (src/target/go_buildinfo.cpp): the target's linker wrote it, so every
// byte is untrusted. Input:
//   byte 0     bit 0: the bytes form a .go.buildinfo section (else a data
//              segment with no section header: the reader scans it)
//   the rest   the bytes, loaded at kDataVaddr (pointers of the pre-1.18
//              format may point anywhere in them, or out of them)
// The bytes go into a small ELF opened as mwscope opens a target's
// executable. What must hold: no crash, no sanitizer report, and a version
// that can go to a terminal as it is (target/terminal_text.h).
//
//   build/fuzz/fuzz_buildinfo build/fuzz/buildinfo_work build/fuzz/buildinfo_seeds
#include <cstddef>
#include <cstdint>

#include "target/go_buildinfo.h"
#include "tiny_elf.h"

namespace {
constexpr uint64_t kDataVaddr = 0x600000;
volatile uint64_t g_sink;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool section = data[0] & 1;
  std::vector<uint8_t> bytes(data + 1, data + size);  // own allocation: ASan sees a read past it
  auto elf = mws::fuzz::open_tiny_elf(mws::fuzz::make_tiny_elf(
      {{section ? ".go.buildinfo" : "", kDataVaddr, bytes.data(), bytes.size(), true}}));
  if (!elf) return 0;
  if (auto info = mws::target::read_go_buildinfo(*elf)) {
    for (unsigned char c : info->version)
      if (c < 0x20 || c == 0x7f) __builtin_trap();  // raw control bytes would reach the terminal
    for (char c : info->module_info) g_sink = g_sink + static_cast<unsigned char>(c);
  }
  return 0;
}
