#include "symbolize/stack_symbolizer.h"

#include <algorithm>
#include <string>

namespace mws::symbolize {
namespace {

// Functions a Go stack starts from: beyond them the frame-pointer chain
// leads into whatever created the thread (clone, rt0), not Go code, and
// Go's own tracebacks stop there too.
bool is_stack_root(const std::string& fn) {
  return fn == "runtime.goexit" || fn == "runtime.mstart" || fn == "runtime.rt0_go" || fn == "runtime.mcall" ||
         fn == "runtime.morestack";
}

}  // namespace

const std::vector<FrameId>& StackSymbolizer::frames_at(uint64_t ret_addr) {
  auto it = by_address_.find(ret_addr);
  if (it != by_address_.end()) return it->second;
  std::vector<FrameId> ids;
  for (const Frame& f : sym_.symbolize_return_address(ret_addr)) ids.push_back(table_.intern(f));
  return by_address_.emplace(ret_addr, std::move(ids)).first->second;
}

std::vector<FrameId> StackSymbolizer::symbolize(const std::vector<uint64_t>& pcs) {
  std::vector<FrameId> frames;
  for (uint64_t ret : pcs) {
    const auto& f = frames_at(ret);
    frames.insert(frames.end(), f.begin(), f.end());
    if (!f.empty() && is_stack_root(table_.at(f.back()).function)) break;
  }
  frames.shrink_to_fit();
  return frames;
}

std::vector<FrameId> StackSymbolizer::symbolize_as_callers(const std::vector<uint64_t>& pcs) {
  std::vector<FrameId> frames;
  for (uint64_t ret : pcs) {
    const auto& f = frames_at(ret);
    if (!f.empty() && is_stack_root(table_.at(f.back()).function)) {
      frames.insert(frames.end(), f.begin(), f.end());
      break;
    }
    if (sym_.elided_by_callers(ret)) continue;
    frames.insert(frames.end(), f.begin(), f.end());
  }
  return frames;
}

std::vector<FrameId> StackSymbolizer::symbolize_callers(const std::vector<uint64_t>& pcs) {
  std::vector<FrameId> frames;
  for (size_t i = 0; i < pcs.size(); i++) {
    // by_address_ is node-based: references into it survive later inserts.
    const std::vector<FrameId>& f = frames_at(pcs[i]);
    if (f.empty()) continue;
    const std::vector<FrameId>* next = i + 1 < pcs.size() ? &frames_at(pcs[i + 1]) : nullptr;
    frames.push_back(f.front());
    for (size_t j = 1; j < f.size(); j++) {
      if (next && next->size() == f.size() - j && std::equal(f.begin() + long(j), f.end(), next->begin())) break;
      frames.push_back(f[j]);
    }
    if (is_stack_root(table_.at(f.back()).function)) break;
  }
  frames.shrink_to_fit();
  return frames;
}

}  // namespace mws::symbolize
