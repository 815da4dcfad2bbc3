#include "symbolize/elf_symbolizer.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>

namespace mws::symbolize {

std::string demangle(const std::string& name) {
  if (name.rfind("_Z", 0) != 0) return name;
  int status = 0;
  char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  std::string result = status == 0 && out ? out : name;
  std::free(out);
  return result;
}

ElfSymbolizer::ElfSymbolizer(std::unique_ptr<target::ElfFile> elf) : elf_(std::move(elf)) {
  const auto& symbols = elf_->has_symtab() ? elf_->symbols() : elf_->dynamic_symbols();
  for (const auto& s : symbols)
    // A symbol without a size (a label such as runtime.etext) covers nothing.
    if (s.is_function && s.value != 0 && s.size != 0) functions_.push_back({s.value, s.value + s.size, s.name});
  std::sort(functions_.begin(), functions_.end(), [](const Function& a, const Function& b) {
    return a.lo != b.lo ? a.lo < b.lo : a.hi > b.hi;
  });
}

std::vector<Frame> ElfSymbolizer::symbolize(uint64_t pc) {
  auto it = std::upper_bound(functions_.begin(), functions_.end(), pc,
                             [](uint64_t v, const Function& f) { return v < f.lo; });
  if (it == functions_.begin()) return {};
  --it;
  // An address past the end of the symbol before it is in code the table
  // does not name (a static function of a stripped library), not in it.
  if (pc >= it->hi) return {};
  return {Frame{demangle(it->name), "", 0, false}};
}

}  // namespace mws::symbolize
