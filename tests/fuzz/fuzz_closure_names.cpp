// libFuzzer target for Go's closure names (src/symbolize/go_closure_names.cpp):
// function names come from the target's .gopclntab, so they are untrusted,
// and finding who made an inlined closure walks the table's inline trees.
// Input: a name up to the first NUL byte, then a fuzz_gopclntab input
// (tests/fuzz/pclntab_input.h). The name, and the names of the table's
// functions, go through strip_closure_suffixes and inlined_closure_owner.
// What must hold: no crash, no sanitizer report; a stripped name is a
// prefix of the name.
//
//   build/fuzz/fuzz_closure_names build/fuzz/closure_names_work build/fuzz/closure_names_seeds
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "pclntab_input.h"
#include "symbolize/go_closure_names.h"
#include "target/gopclntab.h"

namespace {
volatile uint64_t g_sink;

void check_name(std::string_view name) {
  const std::string_view stripped = mws::symbolize::strip_closure_suffixes(name);
  if (name.substr(0, stripped.size()) != stripped) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t name_len = nul ? static_cast<size_t>(nul - data) : size;
  const std::string name(reinterpret_cast<const char*>(data), name_len);
  check_name(name);
  if (!nul) return 0;
  auto in = mws::fuzz::decode_fuzz_input({nul + 1, size - name_len - 1});
  mws::target::PclntabImage img;
  img.table = in.table;
  img.table_vaddr = in.table_vaddr;
  img.text_fallback = in.text_fallback;
  if (in.has_gofunc()) img.gofunc = in.gofunc;
  for (const auto& r : in.regions) img.memory.push_back({r.vaddr, r.bytes, r.writable});
  auto table = mws::target::GoPclntab::parse_image(std::move(img), in.go_version());
  if (!table) return 0;
  g_sink = g_sink + mws::symbolize::inlined_closure_owner(*table, name).size();
  const size_t n = std::min<size_t>(table->function_count(), 256);
  for (size_t i = 0; i < n; i++) {
    const std::string f(table->function(i).name);
    check_name(f);
    g_sink = g_sink + mws::symbolize::inlined_closure_owner(*table, f).size();
  }
  return 0;
}
