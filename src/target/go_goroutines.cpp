#include "target/go_goroutines.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <unordered_set>

#include "util/bytes.h"

namespace mws::target {

namespace {

// How much of a parked goroutine's stack is copied in one piece, from its
// saved stack pointer up: the frames of a typical wait fit (Go starts a
// goroutine with 2-8 KiB of stack), deeper ones are read frame by frame.
constexpr uint64_t kStackWindow = 4096;
// Goroutines read per batch: bounds the copy buffers (4 MiB of stacks).
constexpr size_t kGoroutinesPerBatch = 1024;

// Where a parked goroutine's saved context points, and the copy of the top
// of its stack.
struct ParkedContext {
  uint64_t pc = 0, sp = 0, bp = 0, lo = 0, hi = 0;
  const uint8_t* window = nullptr;  // copy of [sp, sp + window_len), when read
  uint64_t window_len = 0;
};

// A frame-pointer walk from the saved context. Every frame must lie in the
// goroutine's own stack [lo, hi), above the last: anything else means it
// moved under us, and the walk stops there. Frames in the copied window
// cost nothing; beyond it each is one read. *looped (when given) is set when
// a saved frame pointer points back down into the stack, at or below its
// own frame: a chain that loops (or a stack that changed as it was read).
std::vector<uint64_t> walk_parked_stack(const RemoteMemory& mem, const ParkedContext& c, bool* looped = nullptr) {
  std::vector<uint64_t> out;
  if (c.pc == 0) return out;
  out.push_back(c.pc);
  uint64_t bp = c.bp;
  while (out.size() < kGoroutineStackDepth && bp >= c.lo && bp + 16 <= c.hi && bp % 8 == 0) {
    uint64_t frame[2];  // saved caller bp, return address
    if (c.window && bp >= c.sp && bp + 16 <= c.sp + c.window_len) {
      frame[0] = le64(c.window + (bp - c.sp));
      frame[1] = le64(c.window + (bp - c.sp) + 8);
    } else if (!mem.read(bp, frame, sizeof(frame))) {
      break;
    }
    if (frame[1] == 0) break;
    out.push_back(frame[1]);
    if (frame[0] <= bp) {
      if (looped && frame[0] >= c.lo) *looped = true;  // 0 ends every goroutine's chain
      break;
    }
    bp = frame[0];
  }
  return out;
}

}  // namespace

std::vector<uint64_t> walk_goroutine_stack(const RemoteMemory& mem, uint64_t pc, uint64_t bp, uint64_t lo, uint64_t hi) {
  return walk_parked_stack(mem, ParkedContext{pc, 0, bp, lo, hi});
}

Result<std::vector<GoroutineSnapshot>> read_live_goroutines(const RemoteMemory& mem, uint64_t allgs_addr,
                                                            const GoRuntimeOffsets& off, bool stacks,
                                                            const WalkLimits& limits, std::string* cut) {
  std::string cut_reason;
  auto say_cut = [&](std::string why) {
    if (cut_reason.empty()) cut_reason = std::move(why);
  };
  // What the target's own state made us skip, said after the cut (if any).
  uint64_t repeated_entries = 0, looping_stacks = 0;
  struct SliceHeader {
    uint64_t ptr, len, cap;
  };
  auto hdr = mem.read<SliceHeader>(allgs_addr);
  if (!hdr) return Error{"cannot read runtime.allgs from the target's memory"};
  if (hdr->len > hdr->cap || hdr->len > (1u << 24)) return Error{"runtime.allgs looks corrupt (len > cap)"};
  if (off.g_atomicstatus < 0) return Error{"the offset of runtime.g.atomicstatus is unknown"};
  // The offsets size the copy buffers below: out of bounds, they would
  // overflow them (they come from the target's DWARF).
  if (auto st = check_go_offsets(off); !st) return Error{"refusing to read goroutines: " + st.error().message};
  // Every entry is a step, repeated ones too; the array itself is charged
  // to the byte budget.
  uint64_t entries = hdr->len;
  if (entries > limits.max_steps) {
    entries = limits.max_steps;
    say_cut(fmt::format("goroutines were cut after {} of the {} entries of runtime.allgs (the limit)", entries,
                        hdr->len));
  }
  if (entries * sizeof(uint64_t) > limits.max_bytes) {
    entries = limits.max_bytes / sizeof(uint64_t);
    say_cut(fmt::format("goroutines were cut after {} of the {} entries of runtime.allgs: over {} MiB", entries,
                        hdr->len, limits.max_bytes >> 20));
  }
  uint64_t kept_bytes = entries * sizeof(uint64_t);
  std::vector<uint64_t> gs(entries);
  if (!gs.empty() && !mem.read(hdr->ptr, gs.data(), gs.size() * sizeof(uint64_t)))
    return Error{"cannot read the runtime.allgs array from the target's memory"};
  {
    // A g named twice is one goroutine: read it once (the first time).
    std::unordered_set<uint64_t> seen;
    seen.reserve(gs.size());
    size_t kept = 0;
    for (uint64_t g : gs)
      if (seen.insert(g).second) gs[kept++] = g;
    repeated_entries = gs.size() - kept;
    gs.resize(kept);
    kept_bytes += kept * 2 * sizeof(uint64_t);  // the visited set
  }
  stacks = stacks && off.g_sched_pc >= 0 && off.g_sched_sp >= 0 && off.g_sched_bp >= 0;

  // The head of runtime.g up to the last field we use; g.stack {lo, hi} is
  // its first field in every version.
  int64_t head_len = 16;
  for (int64_t o : {off.g_goid, off.g_startpc, off.g_gopc, off.g_atomicstatus, off.g_waitreason, off.g_waitsince,
                    off.g_parent_goid, off.g_sched_sp, off.g_sched_pc, off.g_sched_bp})
    head_len = std::max(head_len, o + 8);  // o <= kMaxGoStructOffset - 8 (checked above)
  const size_t head = static_cast<size_t>(head_len);
  size_t heads_bytes = 0;
  if (head > size_t(kMaxGoStructOffset) || __builtin_mul_overflow(kGoroutinesPerBatch, head, &heads_bytes))
    return Error{"refusing to read goroutines: runtime.g would be over " + std::to_string(kMaxGoStructOffset) +
                 " bytes"};
  std::vector<uint8_t> heads(heads_bytes), windows(kGoroutinesPerBatch * kStackWindow);
  std::vector<RemoteRead> reads;
  std::vector<ParkedContext> parked;
  std::vector<GoroutineSnapshot> out;
  out.reserve(gs.size());
  // Batch by batch: every g's head in a few syscalls, then the top of
  // every parked one's stack, then the walks, mostly in local copies.
  for (size_t first = 0; first < gs.size(); first += kGoroutinesPerBatch) {
    if (limits.stopped()) {
      say_cut(fmt::format("goroutines were cut after {} of {}: interrupted", first, gs.size()));
      break;
    }
    if (kept_bytes > limits.max_bytes) {
      say_cut(fmt::format("goroutines were cut after {} of {}: over {} MiB", first, gs.size(),
                          limits.max_bytes >> 20));
      break;
    }
    const size_t n = std::min(kGoroutinesPerBatch, gs.size() - first);
    reads.assign(n, RemoteRead{});
    for (size_t i = 0; i < n; i++) reads[i] = {gs[first + i], heads.data() + i * head, head};
    mem.read_many(reads);
    const size_t batch_start = out.size();
    parked.clear();
    for (size_t i = 0; i < n; i++) {
      if (!reads[i].ok) continue;
      const uint8_t* g = heads.data() + i * head;
      auto word = [g](int64_t o) { return o >= 0 ? le64(g + o) : 0; };
      GoroutineSnapshot s;
      s.g_addr = gs[first + i];
      s.state.status = le32(g + off.g_atomicstatus);
      if (!go_status_is_goroutine(s.state.status)) continue;
      if (off.g_waitreason >= 0) s.state.waitreason = g[off.g_waitreason];
      s.goid = word(off.g_goid);
      s.startpc = word(off.g_startpc);
      s.gopc = word(off.g_gopc);
      s.waitsince = static_cast<int64_t>(word(off.g_waitsince));
      s.parent_goid = word(off.g_parent_goid);
      s.stack_lo = word(0);
      s.stack_hi = word(8);
      // A running goroutine's registers live in its thread: g.sched is stale.
      if (stacks && (s.state.status & ~kGoStatusScan) != kGoStatusRunning)
        parked.push_back({word(off.g_sched_pc), word(off.g_sched_sp), word(off.g_sched_bp), word(0), word(8)});
      else
        parked.push_back({});
      out.push_back(std::move(s));
      kept_bytes += sizeof(GoroutineSnapshot);
    }
    if (!stacks) continue;
    reads.assign(parked.size(), RemoteRead{});
    for (size_t i = 0; i < parked.size(); i++) {
      const ParkedContext& c = parked[i];
      if (c.pc == 0 || c.sp < c.lo || c.sp >= c.hi) continue;  // no context, or torn
      reads[i] = {c.sp, windows.data() + i * kStackWindow, std::min(kStackWindow, c.hi - c.sp)};
    }
    mem.read_many(reads);
    for (size_t i = 0; i < parked.size(); i++) {
      ParkedContext& c = parked[i];
      if (reads[i].ok) {
        c.window = windows.data() + i * kStackWindow;
        c.window_len = reads[i].len;
      }
      bool looped = false;
      out[batch_start + i].stack = walk_parked_stack(mem, c, &looped);
      looping_stacks += looped;
      kept_bytes += out[batch_start + i].stack.size() * sizeof(uint64_t);
    }
  }
  if (cut) {
    std::vector<std::string> parts;
    if (!cut_reason.empty()) parts.push_back(std::move(cut_reason));
    if (repeated_entries)
      parts.push_back(fmt::format("runtime.allgs names goroutines more than once ({} repeated entries): each "
                                  "was read once",
                                  repeated_entries));
    if (looping_stacks)
      parts.push_back(fmt::format("the stacks of {} goroutines were cut where a frame pointer points back down "
                                  "(a loop, or a stack that changed as it was read)",
                                  looping_stacks));
    *cut = fmt::format("{}", fmt::join(parts, "; "));
  }
  return out;
}

std::string describe_goroutine_state(const GoroutineState& st, const std::string& go_version) {
  if (go_status_is_waiting(st.status)) {
    auto reason = go_wait_reason_name(go_version, st.waitreason);
    if (reason.empty()) reason = "waiting";
    // _Gleaked: Go's own leak detector (1.26+) found it blocked on something unreachable.
    if ((st.status & ~kGoStatusScan) == kGoStatusLeaked) reason += " (leaked, says Go)";
    return reason;
  }
  return go_status_name(st.status);
}

}  // namespace mws::target
