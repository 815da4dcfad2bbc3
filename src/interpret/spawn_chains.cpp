#include "interpret/spawn_chains.h"

namespace mws::interpret {
namespace {
// Above BPF's depth cap (bpf/events.h MWS_SPAWN_CTX_MAX_DEPTH, 16).
constexpr int kMaxChainDepth = 64;
}  // namespace

ChainIndex build_spawn_chains(const model::TaskTracker& tasks, symbolize::StackSymbolizer& sym,
                              std::vector<SpawnChain>& out) {
  const model::SpawnContexts& contexts = tasks.contexts();
  // A creation stack symbolized once, however many chains share it.
  std::unordered_map<model::StackId, std::vector<FrameId>> symbolized;
  auto frames_of = [&](model::StackId id) -> const std::vector<FrameId>& {
    auto [it, fresh] = symbolized.try_emplace(id);
    if (fresh) it->second = sym.symbolize(tasks.stacks().pcs(id));
    return it->second;
  };
  ChainIndex index;
  for (const auto& [ctx, first] : contexts) {
    SpawnChain chain;
    uint64_t at = ctx;
    // Bounded: BPF caps the depth (MWS_SPAWN_CTX_MAX_DEPTH); a hash
    // collision could make a loop, which this bound also ends.
    for (int depth = 0; at != 0 && depth < kMaxChainDepth; depth++) {
      auto it = contexts.find(at);
      if (it == contexts.end()) break;
      chain.creation_stacks.push_back(frames_of(it->second.creation_stack));
      at = it->second.parent;
    }
    index.emplace(ctx, static_cast<uint32_t>(out.size()));
    out.push_back(std::move(chain));
  }
  return index;
}

void add_share(std::vector<SpawnShare>& shares, uint32_t chain, uint64_t objects, uint64_t bytes, uint64_t samples) {
  for (SpawnShare& s : shares)
    if (s.chain == chain) {
      s.objects += objects;
      s.bytes += bytes;
      s.samples += samples;
      return;
    }
  shares.push_back(SpawnShare{chain, objects, bytes, samples});
}

}  // namespace mws::interpret
