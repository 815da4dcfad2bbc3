// Reading the target's memory, tried on this process itself through
// process_vm_readv: batched reads, and the runtime's memory profile on
// bucket lists laid out here as each Go version lays them out (mprof.go).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <vector>

#include "target/go_abi.h"
#include "target/go_heap_profile.h"
#include "target/remote_memory.h"

using namespace mws;

namespace {

// A bucket as the runtime allocates it: header {next, allnext, typ, hash,
// size, nstk}, nstk PCs, then memRecord {active, future[3]}, each cycle
// `words` long ({allocs, frees[, alloc_bytes, free_bytes]}).
struct FakeBucket {
  std::vector<uint64_t> words;
  FakeBucket(uint64_t typ, uint64_t size, std::vector<uint64_t> stack, int cycle_words,
             std::vector<std::pair<uint64_t, uint64_t>> cycles /* active, future[0..2] */) {
    words = {0, 0, typ, 0xfeed, size, stack.size()};
    words.insert(words.end(), stack.begin(), stack.end());
    for (auto [allocs, frees] : cycles) {
      words.push_back(allocs);
      words.push_back(frees);
      for (int i = 2; i < cycle_words; i++) words.push_back(0);
    }
  }
  uint64_t addr() const { return reinterpret_cast<uint64_t>(words.data()); }
};

struct FakeProfile {
  std::deque<FakeBucket> buckets;  // stable addresses
  uint64_t head = 0;
  uint32_t cycle = 0;
  int64_t rate = 1;
  void add(FakeBucket b) {  // prepended, as the runtime links allnext
    buckets.push_back(std::move(b));
    buckets.back().words[1] = head;
    head = buckets.back().addr();
  }
  target::HeapProfileAddresses at() const {
    return {reinterpret_cast<uint64_t>(&head), reinterpret_cast<uint64_t>(&cycle), reinterpret_cast<uint64_t>(&rate)};
  }
};

}  // namespace

TEST_CASE("heap profile: each bucket's counts as MemProfile adds them, in each version's layout", "[goabi]") {
  for (const char* version : {"go1.19.8", "go1.26.1", "go1.27.0"}) {
    INFO(version);
    auto facts = target::go_function_facts(version);
    REQUIRE(facts);
    const int words = int(facts->mem_record_cycle_words);
    CHECK(words == (std::string(version) == "go1.27.0" ? 2 : 4));
    FakeProfile p;
    p.cycle = (7u << 1) | 1;  // cycle 7, flushed: slot 7 % 3 = 1 is the current one
    p.rate = 512 * 1024;
    // Kept: 10 allocated, 4 freed as of the last GC, and 3 + 1 more pending
    // in the current slot; the other slots are later cycles, not yet in.
    p.add(FakeBucket(1, 64, {0x401000, 0x402000}, words, {{10, 4}, {100, 100}, {3, 1}, {50, 0}}));
    // Torn: a stack longer than the runtime allows is skipped and counted.
    p.add(FakeBucket(1, 64, std::vector<uint64_t>(facts->max_profile_stack_depth + 1, 0x1), words,
                     {{1, 0}, {0, 0}, {0, 0}, {0, 0}}));
    // A block-profile bucket is not ours either.
    p.add(FakeBucket(2, 0, {0x403000}, words, {{1, 0}, {0, 0}, {0, 0}, {0, 0}}));
    // Nothing allocated as of now: left out.
    p.add(FakeBucket(1, 32, {0x404000}, words, {{0, 0}, {9, 0}, {0, 0}, {0, 0}}));

    auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), *facts);
    REQUIRE(r);
    CHECK(r->cycle == 7);
    CHECK(r->rate == 512 * 1024);
    CHECK(r->unreadable == 2);
    REQUIRE(r->buckets.size() == 1);
    const auto& b = r->buckets[0];
    CHECK(b.address == p.buckets[0].addr());
    CHECK(b.size == 64);
    CHECK(b.stack == std::vector<uint64_t>{0x401000, 0x402000});
    CHECK(b.allocs == 13);
    CHECK(b.frees == 5);
    CHECK(b.inuse() == 8);
  }
}

TEST_CASE("heap profile: before the first GC every pending cycle counts, as MemProfile does then", "[goabi]") {
  auto facts = target::go_function_facts("go1.22.0");
  REQUIRE(facts);
  FakeProfile p;
  p.add(FakeBucket(1, 16, {0x401000}, int(facts->mem_record_cycle_words), {{0, 0}, {2, 0}, {3, 1}, {4, 0}}));
  auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), *facts);
  REQUIRE(r);
  REQUIRE(r->buckets.size() == 1);
  CHECK(r->buckets[0].allocs == 9);
  CHECK(r->buckets[0].frees == 1);
}

TEST_CASE("heap profile: GCs between two readings, across the cycle counter's wrap", "[goabi]") {
  target::HeapProfileReading a, b;
  a.cycle = 5;
  b.cycle = 9;
  CHECK(target::gc_cycles_between(a, b) == 4);
  a.cycle = 3 * (2u << 24) - 2;  // mProfCycleWrap - 2
  b.cycle = 1;
  CHECK(target::gc_cycles_between(a, b) == 3);
  CHECK(target::gc_cycles_between(b, b) == 0);
}

TEST_CASE("heap profile: before go1.19 it is refused with a reason", "[goabi]") {
  auto facts = target::go_function_facts("go1.18.10");
  REQUIRE(facts);
  FakeProfile p;
  auto r = target::read_heap_profile(target::RemoteMemory(getpid()), p.at(), *facts);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "the runtime's memory profile is read from go1.19 on");
}

TEST_CASE("remote memory: a batched read fills every readable piece and fails only the unreadable ones", "[goabi]") {
  // More pieces than one system call takes, with unreadable ones among them
  // (the kernel stops a call at the first of those).
  constexpr size_t kPieces = 2500;
  std::vector<uint64_t> source(kPieces), dest(kPieces, 0);
  std::vector<target::RemoteRead> reads(kPieces);
  for (size_t i = 0; i < kPieces; i++) {
    source[i] = 0x1000 + i;
    const bool unreadable = i % 700 == 3;  // low addresses are never mapped
    reads[i] = {unreadable ? uint64_t(0x10 + i) : reinterpret_cast<uint64_t>(&source[i]), &dest[i], 8};
  }
  reads[1500].addr = 0;  // no address: skipped, not read
  target::RemoteMemory(getpid()).read_many(reads);
  for (size_t i = 0; i < kPieces; i++) {
    INFO(i);
    const bool readable = i % 700 != 3 && i != 1500;
    CHECK(reads[i].ok == readable);
    if (readable) CHECK(dest[i] == 0x1000 + i);
  }
}
