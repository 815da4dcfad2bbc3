// StackTable: interns raw stacks (machine return addresses, innermost
// first) so each distinct stack is stored once and named by a small id.
// Bounded: past max_stacks, intern() refuses new stacks and the caller
// counts the loss.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "util/sequence_hash.h"

namespace mws::model {

using StackId = uint32_t;

// A stack plus one more word that splits it: the Go type allocated
// (Aggregator), the goroutine's start function (TaskTracker).
struct StackKey {
  StackId stack = 0;
  uint64_t word = 0;
  bool operator==(const StackKey&) const = default;
};

struct StackKeyHash {
  size_t operator()(const StackKey& k) const { return (size_t(k.stack) * 0x9e3779b97f4a7c15ull) ^ k.word; }
};

class StackTable {
 public:
  explicit StackTable(size_t max_stacks = 1u << 20) : max_stacks_(max_stacks) {}
  // nullopt when the stack is new and the table is full.
  std::optional<StackId> intern(std::span<const uint64_t> pcs);
  size_t size() const { return stacks_.size(); }
  const std::vector<uint64_t>& pcs(StackId id) const { return stacks_[id]; }
  // Frees every stack (once they are symbolized, the report needs only
  // their ids); size() is 0 after.
  void release() {
    std::vector<std::vector<uint64_t>>().swap(stacks_);
    decltype(index_)().swap(index_);
  }

 private:
  size_t max_stacks_;
  std::vector<std::vector<uint64_t>> stacks_;
  // Keys view stacks_[i]'s heap buffers, which never move.
  std::unordered_map<std::span<const uint64_t>, StackId, SequenceHash, SequenceEq> index_;
};

}  // namespace mws::model
