#include "symbolize/process_symbolizer.h"

#include <fmt/format.h>

namespace mws::symbolize {

ProcessSymbolizer::ProcessSymbolizer(const target::ProcessInfo& proc, const target::ElfFile& exe,
                                     std::unique_ptr<BinarySymbolizer> exe_symbolizer)
    : pid_(proc.pid), mappings_(proc.mappings), exe_display_(proc.exe_display), exe_bias_(target::load_bias(proc, exe)),
      exe_symbolizer_(std::move(exe_symbolizer)) {}

const std::vector<Frame>& ProcessSymbolizer::symbolize_return_address(uint64_t ret_addr) {
  auto it = cache_.find(ret_addr);
  if (it != cache_.end()) return it->second;
  return cache_.emplace(ret_addr, resolve(ret_addr)).first->second;
}

bool ProcessSymbolizer::elided_by_callers(uint64_t ret_addr) {
  const uint64_t pc = ret_addr - 1;
  if (!exe_symbolizer_ || !exe_bias_) return false;
  for (const auto& m : mappings_)
    if (pc >= m.start && pc < m.end)
      return m.path == exe_display_ && exe_symbolizer_->elided_by_callers(pc - static_cast<uint64_t>(*exe_bias_));
  return false;
}

std::vector<Frame> ProcessSymbolizer::resolve(uint64_t ret_addr) {
  // ret - 1 lies inside the call instruction, so the frame reports the
  // call's line, not the next statement's (as Go's own tracebacks do).
  const uint64_t pc = ret_addr - 1;
  for (const auto& m : mappings_) {
    if (pc < m.start || pc >= m.end) continue;
    const uint64_t file_off = pc - m.start + m.offset;
    if (m.path == exe_display_ && exe_symbolizer_ && exe_bias_) {
      auto frames = exe_symbolizer_->symbolize(pc - static_cast<uint64_t>(*exe_bias_));
      if (!frames.empty()) return frames;
    }
    if (ElfSymbolizer* elf = m.path.empty() ? nullptr : native(m.path))
      if (auto vaddr = elf->elf().offset_to_vaddr(file_off))
        if (auto frames = elf->symbolize(*vaddr); !frames.empty()) return frames;
    std::string base = m.path.empty() ? "anon" : m.path.substr(m.path.find_last_of('/') + 1);
    return {Frame{fmt::format("[{}+{:#x}]", base, file_off), "", 0, false}};
  }
  return {Frame{"[unknown]", "", 0, false}};
}

ElfSymbolizer* ProcessSymbolizer::native(const std::string& path) {
  auto it = native_.find(path);
  if (it != native_.end()) return it->second.get();
  std::unique_ptr<ElfSymbolizer> sym;
  if (path.front() == '/')
    if (auto elf = target::ElfFile::open_in_root(pid_, path))  // beneath its root: it chose the symlinks
      sym = std::make_unique<ElfSymbolizer>(std::move(*elf));
  return native_.emplace(path, std::move(sym)).first->second.get();
}

}  // namespace mws::symbolize
