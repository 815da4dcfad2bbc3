// What a running process is: its executable (reachable through
// /proc/PID/root, so a process in a container works) and its mappings.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "target/elf_file.h"
#include "util/result.h"

namespace mws::target {

struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  bool executable = false;
  std::string path;  // as the target sees it; empty for anonymous memory
  bool readable = false, writable = false;  // what the reachability scan may read, and must (roots)
};

struct ProcessInfo {
  pid_t pid = 0;
  std::string exe_display;  // the executable's path inside the target's mount namespace
  std::string exe_path;     // a path that opens that same file from here
  std::string comm;
  std::vector<Mapping> mappings;
};

// Fails with "no process with PID N" or "not permitted to inspect ..." etc.
Result<ProcessInfo> inspect_process(pid_t pid);
bool process_exists(pid_t pid);
// Whether the process still runs: it exists and is not a zombie (exited,
// not yet reaped by its parent: its code will never run again).
bool process_running(pid_t pid);
// Re-reads /proc/PID/maps (mappings change as a process runs).
Result<std::vector<Mapping>> read_mappings(pid_t pid);
// The lines of a /proc/PID/maps text (the target names its files, so the
// text is untrusted: fuzz_proc_maps); lines that do not parse are skipped.
std::vector<Mapping> parse_mappings(std::string_view text);

// Where the process loaded its executable `exe`: runtime address = link-time
// address + load bias. 0 for a fixed-address (non-PIE) executable; for PIE,
// the start of the mapping of the file's first page minus the page of its
// first segment. nullopt when a PIE executable's first page is not mapped.
// The one translation between what the ELF and .gopclntab say and what the
// probes and process_vm_readv see.
std::optional<int64_t> load_bias(const ProcessInfo& proc, const ElfFile& exe);

}  // namespace mws::target
