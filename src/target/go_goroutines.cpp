#include "target/go_goroutines.h"

#include <algorithm>

#include "util/bytes.h"

namespace mws::target {

namespace {

// A frame-pointer walk of a parked goroutine from its saved context. Every
// frame must lie in the goroutine's own stack [lo, hi), above the last:
// anything else means it moved under us, and the walk stops there.
std::vector<uint64_t> walk_parked_stack(const RemoteMemory& mem, uint64_t pc, uint64_t bp, uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> out;
  if (pc == 0) return out;
  out.push_back(pc);
  while (out.size() < kGoroutineStackDepth && bp >= lo && bp + 16 <= hi && bp % 8 == 0) {
    uint64_t frame[2];  // saved caller bp, return address
    if (!mem.read(bp, frame, sizeof(frame)) || frame[1] == 0) break;
    out.push_back(frame[1]);
    if (frame[0] <= bp) break;
    bp = frame[0];
  }
  return out;
}

}  // namespace

Result<std::vector<GoroutineSnapshot>> read_live_goroutines(const RemoteMemory& mem, uint64_t allgs_addr,
                                                            const GoRuntimeOffsets& off, bool stacks) {
  struct SliceHeader {
    uint64_t ptr, len, cap;
  };
  auto hdr = mem.read<SliceHeader>(allgs_addr);
  if (!hdr) return Error{"cannot read runtime.allgs from the target's memory"};
  if (hdr->len > hdr->cap || hdr->len > (1u << 24)) return Error{"runtime.allgs looks corrupt (len > cap)"};
  if (off.g_atomicstatus < 0) return Error{"the offset of runtime.g.atomicstatus is unknown"};
  std::vector<uint64_t> gs(hdr->len);
  if (!gs.empty() && !mem.read(hdr->ptr, gs.data(), gs.size() * sizeof(uint64_t)))
    return Error{"cannot read the runtime.allgs array from the target's memory"};
  // One read per g: the head of runtime.g up to the last field we use.
  // g.stack {lo, hi} is its first field in every version.
  int64_t end = 16;
  for (int64_t o : {off.g_goid, off.g_startpc, off.g_gopc, off.g_atomicstatus, off.g_waitreason, off.g_waitsince,
                    off.g_sched_pc, off.g_sched_bp})
    end = std::max(end, o + 8);
  std::vector<uint8_t> g(static_cast<size_t>(end));
  auto word = [&g](int64_t o) { return o >= 0 ? le64(g.data() + o) : 0; };
  std::vector<GoroutineSnapshot> out;
  for (uint64_t addr : gs) {
    if (addr == 0 || !mem.read(addr, g.data(), g.size())) continue;
    GoroutineSnapshot s;
    s.g_addr = addr;
    s.state.status = le32(g.data() + off.g_atomicstatus);
    if (!go_status_is_goroutine(s.state.status)) continue;
    if (off.g_waitreason >= 0) s.state.waitreason = g[size_t(off.g_waitreason)];
    s.goid = word(off.g_goid);
    s.startpc = word(off.g_startpc);
    s.gopc = word(off.g_gopc);
    s.waitsince = static_cast<int64_t>(word(off.g_waitsince));
    const uint32_t status = s.state.status & ~kGoStatusScan;
    if (stacks && off.g_sched_pc >= 0 && off.g_sched_bp >= 0 && status != kGoStatusRunning)
      s.stack = walk_parked_stack(mem, word(off.g_sched_pc), word(off.g_sched_bp), word(0), word(8));
    out.push_back(std::move(s));
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
