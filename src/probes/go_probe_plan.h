// Where to hook a Go executable: checks that it is Go, finds the runtime
// functions, the offsets of the g fields the task programs read, and where
// in each function the probes go.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "probes/go_probes.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"
#include "util/result.h"

namespace mws::probes {

struct GoTarget {
  target::GoBuildInfo build;
  GoProbePlan plan;
  // Empty when goroutine tracking is planned; otherwise why it is not.
  std::string tasks_unavailable;
  // Offsets of the runtime.g fields, for the BPF programs (plan.offsets)
  // and for reading goroutine state after recording; source says "DWARF"
  // or "table go1.19". Computed once: DWARF parsing is not free.
  target::GoRuntimeOffsets offsets;
  bool stripped = false;       // no .symtab: functions found through .gopclntab
  std::optional<uint64_t> allgs_vaddr;  // link address of runtime.allgs, when found
  // Every goroutine is read from memory at attach and at the end in every
  // mode (allgs_vaddr, offsets); empty when it can be, else why not.
  std::string goroutines_unavailable;
  std::string requests_unavailable;     // empty when requests are counted
  // Sampled --by-route: why requests could not be named by key (then the
  // requests probe starts them), or empty.
  std::string request_key_unavailable;
  // --by-route: empty when routes are recorded (plan.routes), else why not;
  // the routers probed, and those present but refused (and why).
  std::string routes_unavailable = "not requested (--by-route)";
  std::vector<std::string> routers, routers_refused;
  // Link address of runtime.MemProfileRate (sampled mode reads the rate there).
  std::optional<uint64_t> mem_profile_rate_vaddr;
  // The runtime's memory profile, read at attach and at the end in every
  // mode (no probe): where it lives, or why it cannot be read.
  std::optional<target::HeapProfileVariables> heap_vars;
  std::string heap_unavailable;  // empty when heap_vars and mem_profile_rate_vaddr are found
};

enum class AllocationProbes {
  None,     // --no-allocs
  Exact,    // runtime.mallocgc: every allocation
  Sampled,  // runtime.mProf_Malloc: the runtime's own samples (frees: its buckets, read from memory)
};

struct PlanRequest {
  AllocationProbes allocations = AllocationProbes::Sampled;
  bool tasks = true;
  bool requests = true;
  bool routes = false;  // --by-route: exact mode adds the requests probe; sampled mode, only when it must
  const std::atomic<bool>* stop = nullptr;  // Ctrl-C: cuts the search of a stripped binary's function table
};

// Whether the executable is a Go program (target::is_go_executable).
bool is_go_program(const target::ElfFile& exe);

// A process without a Go runtime (a C or C++ server): no Go probe, and every
// Go-only part says why.
GoTarget not_go_target();

// `what` names the target in messages ("process 123 (/usr/bin/app)").
Result<GoTarget> plan_go_probes(const target::ElfFile& exe, const std::string& what, const PlanRequest& req);

}  // namespace mws::probes
