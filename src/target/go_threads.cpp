#include "target/go_threads.h"

#include "target/go_goroutines.h"

#include <unordered_set>

namespace mws::target {

Result<GoMOffsets> go_m_offsets_from_dwarf(const ElfFile& elf) {
  GoMOffsets o;
  for (auto [field, name] : {std::pair{&o.m_procid, "procid"}, std::pair{&o.m_lockedg, "lockedg"},
                             std::pair{&o.m_alllink, "alllink"}}) {
    auto at = go_member_offset_from_dwarf(elf, "runtime.m", name);
    if (!at) return at.error();
    *field = *at;
  }
  o.source = "DWARF";
  return o;
}

std::vector<uint64_t> walk_syscall_stack(const RemoteMemory& mem, uint64_t pc, uint64_t sp, uint64_t lo, uint64_t hi,
                                         const FrameSizeAt& frame_size) {
  if (pc == 0 || sp < lo || sp >= hi) return {};
  // The function at pc saved its caller's frame pointer one word below the
  // top of its frame: sp + its frame size - 8.
  auto size = frame_size(pc);
  if (!size || *size < 8) return {pc};
  return walk_goroutine_stack(mem, pc, sp + uint64_t(*size) - 8, lo, hi);
}

Result<std::vector<GoThread>> read_go_threads(const RemoteMemory& mem, uint64_t allm_addr, const GoMOffsets& m,
                                              const GoRuntimeOffsets& g, const FrameSizeAt& frame_size) {
  if (m.m_procid < 0 || g.m_curg < 0 || m.m_lockedg < 0 || m.m_alllink < 0)
    return Error{"the layout of runtime.m is unknown"};
  if (g.g_atomicstatus < 0) return Error{"the offset of runtime.g.atomicstatus is unknown"};
  auto head = mem.read<uint64_t>(allm_addr);
  if (!head) return Error{"cannot read runtime.allm from the target's memory"};
  std::vector<GoThread> out;
  // The list only grows (Ms are never freed, except a locked M whose
  // goroutine exits, which is unlinked): bound the walk against a torn read,
  // and end it where the list loops back (a hostile target can link it so).
  std::unordered_set<uint64_t> visited;
  for (uint64_t addr = *head; addr != 0 && out.size() < (1u << 16) && visited.insert(addr).second;) {
    auto word = [&](int64_t off) { return mem.read<uint64_t>(addr + uint64_t(off)); };
    auto procid = word(m.m_procid), curg = word(g.m_curg), lockedg = word(m.m_lockedg), next = word(m.m_alllink);
    if (!procid || !curg || !lockedg || !next) return Error{"runtime.allm changed while it was read"};
    GoThread t;
    t.m_addr = addr;
    t.tid = static_cast<uint32_t>(*procid);
    t.curg = *curg;
    t.lockedg = *lockedg;
    if (t.curg) {
      if (auto st = mem.read<uint32_t>(t.curg + uint64_t(g.g_atomicstatus))) t.curg_status = *st;
      if ((t.curg_status & ~kGoStatusScan) == kGoStatusSyscall && g.g_syscallpc >= 0 && g.g_syscallsp >= 0) {
        uint64_t bounds[2];  // g.stack {lo, hi}
        auto pc = mem.read<uint64_t>(t.curg + uint64_t(g.g_syscallpc));
        auto sp = mem.read<uint64_t>(t.curg + uint64_t(g.g_syscallsp));
        if (pc && sp && mem.read(t.curg, bounds, sizeof bounds))
          t.syscall_stack = walk_syscall_stack(mem, *pc, *sp, bounds[0], bounds[1], frame_size);
      }
    }
    out.push_back(std::move(t));
    addr = *next;
  }
  return out;
}

}  // namespace mws::target
