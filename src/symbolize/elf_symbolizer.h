// Symbolizes a native (C, C++) binary by its ELF symbol tables: .symtab
// when present, else .dynsym (what a stripped shared library still exports).
// Function names only, C++ names demangled. For libc and the C code of a
// process (--c-heap).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "symbolize/symbolizer.h"
#include "target/elf_file.h"

namespace mws::symbolize {

class ElfSymbolizer : public BinarySymbolizer {
 public:
  explicit ElfSymbolizer(std::unique_ptr<target::ElfFile> elf);
  std::vector<Frame> symbolize(uint64_t pc) override;
  const target::ElfFile& elf() const { return *elf_; }

 private:
  struct Function {
    uint64_t lo = 0, hi = 0;
    std::string name;
  };
  std::unique_ptr<target::ElfFile> elf_;
  std::vector<Function> functions_;  // by lo
};

// A demangled C++ name, or the name itself.
std::string demangle(const std::string& name);

}  // namespace mws::symbolize
