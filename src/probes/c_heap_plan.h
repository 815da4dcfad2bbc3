// Where to hook the C heap of a process (--c-heap): glibc's allocator in the
// libc the target maps, and, in a Go target, how BPF finds the goroutine
// whose cgo call is allocating (bpf/events.h, mws_cgo_context).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/process.h"
#include "util/result.h"

namespace mws::probes {

struct CHeapSite {
  std::string symbol;        // "malloc"
  uint64_t file_offset = 0;  // in the libc file: the entry, or past a leading TEST/CMP (prologue.h)
  uint32_t func = 0;         // enum mws_c_alloc_func; 0 for free
};

struct CHeapPlan {
  std::string libc_path;     // opens the target's libc from here (/proc/self/fd/N of `libc`)
  std::shared_ptr<const target::ElfFile> libc;  // the open libc, kept open for the attach
  std::string libc_display;  // as the target maps it
  std::vector<CHeapSite> allocs;  // entry and return probes, one per distinct address
  CHeapSite free;
  mws_cgo_context cgo{};
  // Empty when cgo.tls_g_offset is set, or the target is not Go; else why C
  // allocations cannot be charged to a goroutine.
  std::string go_stacks_unavailable;
};

// The allocator of the target's libc. Fails with one line naming the process
// when it maps no glibc (a Go binary built without cgo allocates no C memory).
Result<CHeapPlan> plan_c_heap(const target::ProcessInfo& proc, const std::string& what);

// What a Go executable needs for C allocations to carry the goroutine's Go
// stack: g's TLS slot, the g/m offsets, runtime.cgocall's return from
// entersyscall and its frame there. `load_bias` as target::load_bias.
// Fails, saying why, when one of them cannot be found.
Result<mws_cgo_context> plan_cgo_context(const target::ElfFile& exe, const std::string& go_version,
                                         const target::GoRuntimeOffsets& offsets, int64_t load_bias);

// Where g lives relative to the thread pointer (FS base) in an executable
// with this PT_TLS segment and runtime.tlsg at `tlsg_value` in it (x86-64
// TLS variant II: the executable's block ends at the thread pointer).
int64_t go_tls_g_offset(const target::ElfSegment& tls, uint64_t tlsg_value);

}  // namespace mws::probes
