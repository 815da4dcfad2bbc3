// The Go runtime's OS threads (Ms), read from the target's memory:
// runtime.allm, linked through m.alllink; m.procid is the thread's tid,
// m.curg the goroutine it runs (or is in a system call or cgo call for),
// m.lockedg the goroutine locked to it (runtime.LockOSThread). No probe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/remote_memory.h"
#include "util/result.h"

namespace mws::target {

// Byte offsets in runtime.m (amd64) beyond GoRuntimeOffsets' m.curg: the
// thread's id, the locked goroutine, the link of runtime.allm.
struct GoMOffsets {
  int64_t m_procid = -1, m_lockedg = -1, m_alllink = -1;
  std::string source;  // "DWARF"
};

// From the binary's DWARF (runtime.m). Fails without DWARF: the per-version
// table does not hold runtime.m's layout yet, so a stripped binary's Ms are
// not read (its threads are still listed from /proc, without holders).
Result<GoMOffsets> go_m_offsets_from_dwarf(const ElfFile& elf);

struct GoThread {
  uint64_t m_addr = 0;
  uint32_t tid = 0;         // m.procid
  uint64_t curg = 0;        // 0: the M runs no goroutine (idle, parked, or the scheduler)
  uint64_t lockedg = 0;     // 0: no goroutine is locked to it
  uint32_t curg_status = 0; // curg's g.atomicstatus
  // When curg is in a system call or cgo call (_Gsyscall): its Go stack,
  // return addresses leaf first, from the context entersyscall saved.
  std::vector<uint64_t> syscall_stack;
};

// A function's frame size at a runtime pc (GoPclntab::sp_delta, after the
// load bias); nullopt when unknown.
using FrameSizeAt = std::function<std::optional<int32_t>(uint64_t pc)>;

// Every M in runtime.allm (its runtime address: `allm_addr`). `g` gives
// m.curg and the runtime.g fields entersyscall sets, g.syscallsp and
// g.syscallpc (g.sched is no use there: asmcgocall overwrites it when it
// switches to the system stack).
Result<std::vector<GoThread>> read_go_threads(const RemoteMemory& mem, uint64_t allm_addr, const GoMOffsets& m,
                                              const GoRuntimeOffsets& g, const FrameSizeAt& frame_size);

// The Go stack of a goroutine in a system call or cgo call: entersyscall
// saved the pc and sp of its caller (g.syscallpc, g.syscallsp). Before
// go1.23 no frame pointer was saved with them, so the first frame is found
// from that function's frame size (its pcsp table): its return address at
// sp + size, its caller's frame pointer 8 below; then frame pointers, each
// inside the goroutine's stack [lo, hi) and above the last.
std::vector<uint64_t> walk_syscall_stack(const RemoteMemory& mem, uint64_t pc, uint64_t sp, uint64_t lo, uint64_t hi,
                                         const FrameSizeAt& frame_size);

}  // namespace mws::target
