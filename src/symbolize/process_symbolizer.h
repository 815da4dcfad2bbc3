// Symbolizes return addresses seen in a process: finds the mapping, turns
// the runtime address into the binary's link-time address, asks that
// binary's symbolizer, and caches the answer per address.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/profile.h"
#include "symbolize/elf_symbolizer.h"
#include "symbolize/symbolizer.h"
#include "target/elf_file.h"
#include "target/process.h"

namespace mws::symbolize {

class ProcessSymbolizer {
 public:
  // `exe` is the target's executable (opened from ProcessInfo::exe_path),
  // `exe_symbolizer` symbolizes it. Addresses it does not know (the C code
  // of a cgo binary, a C executable) and those of other files (libc) are
  // named by the file's ELF symbols, else by file and offset.
  ProcessSymbolizer(const target::ProcessInfo& proc, const target::ElfFile& exe,
                    std::unique_ptr<BinarySymbolizer> exe_symbolizer);

  // Frames for a return address (innermost first); never empty: an unknown
  // address yields one frame "[unknown]" or "[file+0xoff]".
  const std::vector<Frame>& symbolize_return_address(uint64_t ret_addr);
  // Whether runtime.Callers leaves the physical function holding this return
  // address's call out of its PCs (BinarySymbolizer::elided_by_callers);
  // false outside the executable.
  bool elided_by_callers(uint64_t ret_addr);

  size_t cache_size() const { return cache_.size(); }

 private:
  std::vector<Frame> resolve(uint64_t ret_addr);
  // The native symbols of a mapped file (libc, a C executable), opened on
  // first use; null when it cannot be read.
  ElfSymbolizer* native(const std::string& path);
  pid_t pid_ = 0;
  std::unordered_map<std::string, std::unique_ptr<ElfSymbolizer>> native_;
  std::vector<target::Mapping> mappings_;
  std::string exe_display_;
  std::optional<int64_t> exe_bias_;  // the executable's load bias (target::load_bias)
  std::unique_ptr<BinarySymbolizer> exe_symbolizer_;
  std::unordered_map<uint64_t, std::vector<Frame>> cache_;
};

}  // namespace mws::symbolize
