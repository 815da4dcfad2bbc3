// Sampled mode's frees: not probed, but the runtime's own per-bucket free
// counts read at attach and at the end (interpret::add_heap_inuse), charged
// to the sampled stack of the same frames; frees of buckets no sampled
// stack matches are counted apart. Addresses fall in one anonymous mapping,
// so each symbolizes to a name of its own without any binary to read.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "interpret/profile_stacks.h"
#include "model/sample_tracker.h"
#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/elf_file.h"
#include "target/go_heap_profile.h"
#include "target/process.h"
#include "symtarget_stacks.h"

using namespace mws;

namespace {

constexpr uint64_t kBase = 0x7f0000000000;  // the anonymous mapping
const std::vector<uint64_t> kStackA{kBase + 0x110, kBase + 0x910};
const std::vector<uint64_t> kStackB{kBase + 0x210, kBase + 0x910};
const std::vector<uint64_t> kStackC{kBase + 0x310, kBase + 0x910};  // sampled before attach only

struct Fixture : test::SymtargetStacks {
  Fixture() : SymtargetStacks(kBase) {}
};

target::HeapBucket bucket(uint64_t address, const std::vector<uint64_t>& stack, uint64_t size, uint64_t allocs,
                          uint64_t frees) {
  target::HeapBucket b;
  b.address = address;
  b.stack = stack;
  b.size = size;
  b.allocs = allocs;
  b.frees = frees;
  return b;
}

// A reads 3 frees at (A, 64) and 1 at (A, 128), a bucket of A's frames never
// sampled while recording; B's bucket is new since attach, 1 free; C's 2
// frees match no sampled stack.
struct Readings {
  target::HeapProfileReading start, end;
  Readings() {
    start.rate = end.rate = 4096;
    start.buckets = {bucket(0xb1, kStackA, 64, 10, 4), bucket(0xb3, kStackC, 32, 5, 1),
                     bucket(0xb4, kStackA, 128, 2, 0)};
    end.buckets = {bucket(0xb1, kStackA, 64, 12, 7), bucket(0xb2, kStackB, 128, 1, 1),
                   bucket(0xb3, kStackC, 32, 5, 3), bucket(0xb4, kStackA, 128, 2, 1)};
  }
};

const ProfileStack* stack_of(const std::vector<ProfileStack>& stacks, symbolize::StackSymbolizer& sym,
                             const std::vector<uint64_t>& pcs) {
  const std::vector<FrameId> frames = sym.symbolize(pcs);
  for (const auto& s : stacks)
    if (s.frame_ids == frames) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("sampled frees are the runtime buckets' frees over the window, charged to the stack of their frames",
          "[interpret][sampled]") {
  Fixture f;
  model::SampleTracker samples;
  samples.on_alloc(kStackA, 64);
  samples.on_alloc(kStackA, 64);
  samples.on_alloc(kStackB, 128, 7);
  interpret::BucketFrees frees;
  std::vector<ProfileStack> stacks = interpret::build_sampled_stacks(samples, *f.stacks, 4096, nullptr, &frees);
  REQUIRE(stacks.size() == 2);
  const Readings r;
  interpret::add_heap_inuse(r.start, r.end, *f.stacks, stacks, &frees);

  const ProfileStack* a = stack_of(stacks, *f.stacks, kStackA);
  const ProfileStack* b = stack_of(stacks, *f.stacks, kStackB);
  const ProfileStack* c = stack_of(stacks, *f.stacks, kStackC);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  CHECK(a->samples == 2);
  CHECK(a->freed_samples == 3 + 1);
  CHECK(a->freed_sample_bytes == 3 * 64 + 128);
  CHECK(a->inuse_samples == (12 - 7) + (2 - 1));
  CHECK(b->freed_samples == 1);
  CHECK(b->freed_sample_bytes == 128);
  // C holds memory, so it is listed for its in-use, but it sampled nothing
  // while recording: its frees are not charged to it.
  CHECK(c->samples == 0);
  CHECK(c->inuse_samples == 2);
  CHECK(c->freed_samples == 0);
  CHECK(frees.unattributed_samples == 2);
  CHECK(frees.unattributed_bytes == 2 * 32);

  // Exact mode asks for no frees: in-use alone, nothing charged.
  std::vector<ProfileStack> inuse_only;
  interpret::add_heap_inuse(r.start, r.end, *f.stacks, inuse_only);
  for (const auto& s : inuse_only) CHECK(s.freed_samples == 0);
  CHECK(inuse_only.size() == 2);  // A and C hold memory; B's one object is freed
}

TEST_CASE("a bucket that reads fewer frees at the end than at attach frees nothing", "[interpret][sampled]") {
  Fixture f;
  model::SampleTracker samples;
  samples.on_alloc(kStackA, 64);
  interpret::BucketFrees frees;
  std::vector<ProfileStack> stacks = interpret::build_sampled_stacks(samples, *f.stacks, 4096, nullptr, &frees);
  target::HeapProfileReading start, end;
  start.rate = end.rate = 4096;
  start.buckets = {bucket(0xb1, kStackA, 64, 10, 6)};
  end.buckets = {bucket(0xb1, kStackA, 64, 10, 5)};  // torn, or a wrapped counter: never negative
  interpret::add_heap_inuse(start, end, *f.stacks, stacks, &frees);
  REQUIRE(stacks.size() == 1);
  CHECK(stacks[0].freed_samples == 0);
  CHECK(frees.unattributed_samples == 0);
}

TEST_CASE("a bucket cut at the runtime's depth limit frees into the sampled stack it begins", "[interpret][sampled]") {
  Fixture f;
  // Two stacks 40 frames deep that differ only beyond the 32nd frame, and
  // a third that differs in the first: the runtime's bucket holds 32 PCs.
  std::vector<uint64_t> deep, deeper, other;
  for (uint64_t i = 0; i < 40; i++) {
    deep.push_back(kBase + 0x1010 + 0x10 * i);
    deeper.push_back(kBase + (i < 32 ? 0x1010 + 0x10 * i : 0x3010 + 0x10 * i));
    other.push_back(kBase + (i == 0 ? 0x5010 : 0x1010 + 0x10 * i));
  }
  model::SampleTracker samples;
  samples.on_alloc(deep, 64);
  samples.on_alloc(deeper, 64);
  samples.on_alloc(deeper, 64);
  samples.on_alloc(other, 64);
  interpret::BucketFrees frees;
  std::vector<ProfileStack> stacks = interpret::build_sampled_stacks(samples, *f.stacks, 4096, nullptr, &frees);
  REQUIRE(stacks.size() == 3);
  target::HeapProfileReading start, end;
  start.rate = end.rate = 4096;
  const std::vector<uint64_t> cut(deep.begin(), deep.begin() + 32);
  end.buckets = {bucket(0xb1, cut, 64, 3, 3)};
  interpret::add_heap_inuse(start, end, *f.stacks, stacks, &frees);
  const ProfileStack* s = stack_of(stacks, *f.stacks, deeper);
  REQUIRE(s);
  CHECK(s->freed_samples == 3);  // both begin with the bucket's 32 frames: the one with more samples
  CHECK(stack_of(stacks, *f.stacks, deep)->freed_samples == 0);
  CHECK(stack_of(stacks, *f.stacks, other)->freed_samples == 0);
  CHECK(frees.unattributed_samples == 0);

  // Shorter than the limit, it is whole: no stack begins with it.
  end.buckets = {bucket(0xb2, std::vector<uint64_t>(deep.begin(), deep.begin() + 31), 64, 3, 3)};
  interpret::add_heap_inuse(start, end, *f.stacks, stacks, &frees);
  CHECK(frees.unattributed_samples == 3);
  CHECK(stack_of(stacks, *f.stacks, deeper)->freed_samples == 3);
}

TEST_CASE("sample tracker: samples per (stack, size), and per spawn context", "[model]") {
  model::SampleTracker t;
  t.on_alloc(kStackA, 64);
  t.on_alloc(kStackA, 64, 9);
  t.on_alloc(kStackA, 128);
  CHECK(t.count_size() == 2);
  CHECK(t.events() == 3);
  uint64_t at64 = 0, in_ctx = 0;
  t.for_each([&](const model::SampleKey& k, const model::SampleCounts& c) {
    if (k.word == 64) at64 = c.samples;
  });
  t.for_each_in_context([&](const model::ContextKey& k, const model::SampleCounts& c) {
    if (k.ctx == 9) in_ctx += c.samples;
  });
  CHECK(at64 == 2);
  CHECK(in_ctx == 1);
}
