#include "model/profile_builder.h"

#include <map>

namespace mws::model {

Profile build_profile(const Aggregator& agg, symbolize::ProcessSymbolizer& sym, ProfileMeta meta) {
  Profile p;
  p.meta = std::move(meta);
  // Key: the symbolized frames; two raw stacks that differ only in
  // addresses within the same source lines become one stack.
  std::map<std::vector<std::tuple<std::string, std::string, uint32_t, bool>>, size_t> index;
  for (StackId id = 0; id < agg.stack_count(); id++) {
    ProfileStack s;
    for (uint64_t ret : agg.stack(id).pcs) {
      const auto& frames = sym.symbolize_return_address(ret);
      s.frames.insert(s.frames.end(), frames.begin(), frames.end());
    }
    std::vector<std::tuple<std::string, std::string, uint32_t, bool>> key;
    key.reserve(s.frames.size());
    for (const auto& f : s.frames) key.emplace_back(f.function, f.file, f.line, f.inlined);
    auto [it, fresh] = index.emplace(std::move(key), p.stacks.size());
    if (fresh) p.stacks.push_back(std::move(s));
    p.stacks[it->second].objects += agg.counts(id).objects;
    p.stacks[it->second].bytes += agg.counts(id).bytes;
  }
  return p;
}

}  // namespace mws::model
