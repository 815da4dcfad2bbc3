// libFuzzer target for struct offsets as a target's DWARF claims them
// (issue 26): arbitrary values go to check_go_offsets, and then, whatever
// it said, to the readers that size buffers and index copies with them
// (goroutines with their stacks, allm), over a memory image served by a
// fake memory source. Input format: tests/fuzz/offsets_input.h. What must
// hold: no crash, no sanitizer report; offsets check_go_offsets accepts lie
// inside kMaxGoStructOffset; results within the walk limits.
//
//   build/fuzz/fuzz_go_offsets build/fuzz/go_offsets_work build/fuzz/go_offsets_seeds
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "offsets_input.h"
#include "target/go_goroutines.h"
#include "target/remote_memory.h"

namespace {

class Image : public mws::target::MemorySource {
 public:
  explicit Image(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  bool read(uint64_t addr, void* out, size_t len) const override {
    const uint64_t base = mws::fuzz::kImageBase;
    if (addr < base || len > bytes_.size() || addr - base > bytes_.size() - len) return false;
    std::memcpy(out, bytes_.data() + (addr - base), len);
    return true;
  }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mws::target;
  auto in = mws::fuzz::decode_offsets_input({data, size});
  if (check_go_offsets(in.g)) {
    for (int64_t* f : mws::fuzz::offset_fields(in.g, in.m))
      if (f != &in.m.m_procid && f != &in.m.m_lockedg && f != &in.m.m_alllink &&
          (*f < -1 || *f > kMaxGoStructOffset - 8))
        __builtin_trap();
  }
  RemoteMemory mem(std::make_shared<Image>(in.image));
  WalkLimits limits;
  limits.max_steps = 4096;
  limits.max_bytes = 8 << 20;
  std::string cut;
  for (bool stacks : {false, true}) {
    auto gs = read_live_goroutines(mem, mws::fuzz::kImageBase, in.g, stacks, limits, &cut);
    if (gs) {
      if (gs->size() > limits.max_steps) __builtin_trap();
      for (const auto& g : *gs)
        if (g.stack.size() > kGoroutineStackDepth) __builtin_trap();
    }
  }
  auto threads = read_go_threads(mem, mws::fuzz::kImageBase + 24, in.m, in.g,
                                 [](uint64_t) { return std::optional<int32_t>(64); });
  (void)threads;
  return 0;
}
