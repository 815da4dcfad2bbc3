// libFuzzer target for the readers of a target's memory (issue 26): the
// goroutine reader (allgs, each g, its parked stack), the heap-profile
// bucket walk and the allm walk, all served by a fake memory source
// (target::MemorySource) instead of a process. The input is the image:
//   byte 0       Go minor version (17 + b % 11): which layout the readers assume
//   bytes 1..    the memory, mapped at kBase; everything else is unmapped
// At kBase: allgs's slice header {ptr, len, cap}, then runtime.mbuckets,
// mProfCycle, MemProfileRate, allm (one word each). Pointers in the image
// may point anywhere in it, loop, or into nothing; lengths may be huge.
// Limits are small here so that one input runs in milliseconds; what must
// hold is: no crash, no sanitizer report, no hang, results within limits.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined (tests/CMakeLists.txt);
// run as ctest -L fuzz, or by hand:
//   build/fuzz/fuzz_target_memory build/fuzz/target_memory_work
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "target/go_abi.h"
#include "target/go_goroutines.h"
#include "target/go_heap_profile.h"
#include "target/go_threads.h"
#include "target/remote_memory.h"

namespace {

constexpr uint64_t kBase = 0x7f0000000000;

class Image : public mws::target::MemorySource {
 public:
  Image(const uint8_t* data, size_t size) : bytes_(data, data + size) {}
  bool read(uint64_t addr, void* out, size_t len) const override {
    if (addr < kBase || len > bytes_.size() || addr - kBase > bytes_.size() - len) return false;
    std::memcpy(out, bytes_.data() + (addr - kBase), len);
    return true;
  }

 private:
  std::basic_string<uint8_t> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mws::target;
  if (size < 1) return 0;
  const std::string version = "go1." + std::to_string(kGoAbiMinMinor + data[0] % (kGoAbiMaxMinor - kGoAbiMinMinor + 1));
  auto offsets = go_offsets_from_table(version);
  auto facts = go_function_facts(version);
  if (!offsets || !facts) __builtin_trap();
  RemoteMemory mem(std::make_shared<Image>(data + 1, size - 1));

  WalkLimits limits;
  limits.max_steps = 4096;
  limits.max_bytes = 8 << 20;
  std::string cut;
  for (bool stacks : {false, true}) {
    auto gs = read_live_goroutines(mem, kBase, *offsets, stacks, limits, &cut);
    if (gs) {
      if (gs->size() > limits.max_steps) __builtin_trap();
      for (const auto& g : *gs)
        if (g.stack.size() > kGoroutineStackDepth) __builtin_trap();
    }
  }
  if (facts->heap_profile_readable) {
    auto heap = read_heap_profile(mem, {kBase + 24, kBase + 32, kBase + 40}, *facts, 4096, limits);
    if (heap && heap->buckets.size() + heap->unreadable > 4096) __builtin_trap();
  }
  GoMOffsets m;
  m.m_procid = 72;
  m.m_lockedg = 120;
  m.m_alllink = 128;
  auto threads = read_go_threads(mem, kBase + 48, m, *offsets, [](uint64_t) { return std::optional<int32_t>(64); });
  (void)threads;
  return 0;
}
