// libFuzzer target for the parser of /proc/PID/maps (src/target/process.cpp,
// parse_mappings): the target names its own files (any bytes but '/' and
// NUL in a component, newlines escaped by the kernel, " (deleted)"
// suffixes), so the text is untrusted. What must hold: no crash, no
// sanitizer report; no mapping's path holds a newline; at most one mapping
// per line.
//
//   build/fuzz/fuzz_proc_maps build/fuzz/proc_maps_work build/fuzz/proc_maps_seeds
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "target/process.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto maps = mws::target::parse_mappings(text);
  if (maps.size() > static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1) __builtin_trap();
  for (const auto& m : maps)
    if (m.path.find('\n') != std::string::npos) __builtin_trap();
  return 0;
}
