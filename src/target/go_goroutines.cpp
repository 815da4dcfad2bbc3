#include "target/go_goroutines.h"

namespace mws::target {

std::optional<GoroutineState> read_goroutine_state(const RemoteMemory& mem, uint64_t g_addr,
                                                   const GoRuntimeOffsets& off) {
  if (off.g_atomicstatus < 0) return std::nullopt;
  GoroutineState st;
  auto status = mem.read<uint32_t>(g_addr + off.g_atomicstatus);
  if (!status) return std::nullopt;
  st.status = *status;
  if (off.g_waitreason >= 0) {
    auto wr = mem.read<uint8_t>(g_addr + off.g_waitreason);
    if (wr) st.waitreason = *wr;
  }
  return st;
}

Result<std::vector<GoroutineSnapshot>> read_live_goroutines(const RemoteMemory& mem, uint64_t allgs_addr,
                                                            const GoRuntimeOffsets& off) {
  struct SliceHeader {
    uint64_t ptr, len, cap;
  };
  auto hdr = mem.read<SliceHeader>(allgs_addr);
  if (!hdr) return Error{"cannot read runtime.allgs from the target's memory"};
  if (hdr->len > hdr->cap || hdr->len > (1u << 24)) return Error{"runtime.allgs looks corrupt (len > cap)"};
  std::vector<uint64_t> gs(hdr->len);
  if (!gs.empty() && !mem.read(hdr->ptr, gs.data(), gs.size() * sizeof(uint64_t)))
    return Error{"cannot read the runtime.allgs array from the target's memory"};
  std::vector<GoroutineSnapshot> out;
  for (uint64_t g : gs) {
    auto st = read_goroutine_state(mem, g, off);
    if (!st || !go_status_is_goroutine(st->status)) continue;
    GoroutineSnapshot s;
    s.g_addr = g;
    s.state = *st;
    if (off.g_goid >= 0) s.goid = mem.read<uint64_t>(g + off.g_goid).value_or(0);
    if (off.g_startpc >= 0) s.startpc = mem.read<uint64_t>(g + off.g_startpc).value_or(0);
    if (off.g_gopc >= 0) s.gopc = mem.read<uint64_t>(g + off.g_gopc).value_or(0);
    out.push_back(s);
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
