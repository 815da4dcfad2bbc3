#include "symbolize/stack_symbolizer.h"

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

}  // namespace mws::symbolize
