// Loads go_alloc.bpf.c and attaches it to the target's allocator.
// BPF links are owned by file descriptors held here; destroying the
// AllocProbe (or the process dying) detaches everything. Nothing is pinned.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "util/result.h"

struct go_alloc;
struct bpf_map;

namespace mws::probes {

struct ProbeSite {
  std::string binary_path;  // file to attach to
  std::string symbol;       // for messages: "runtime.mallocgc"
  uint64_t file_offset = 0; // uprobe offset in the file (entry + prologue offset)
  uint64_t vaddr = 0;       // link-time address of the probed instruction
  bool on_stack_check_jump = false;
};

struct AllocProbeOptions {
  pid_t pid = 0;
  uint64_t ringbuf_bytes = 32ull << 20;  // power of two
  bool empty_program = false;  // benchmark baseline: a program that emits nothing
};

struct BpfCounters {
  uint64_t probe_hits = 0, events_submitted = 0, ringbuf_drops = 0, stack_errors = 0;
};

class AllocProbe {
 public:
  static Result<std::unique_ptr<AllocProbe>> attach(const ProbeSite& site, const AllocProbeOptions& opt);
  ~AllocProbe();
  AllocProbe(const AllocProbe&) = delete;
  AllocProbe& operator=(const AllocProbe&) = delete;

  bpf_map* events_map() const;
  BpfCounters read_counters() const;
  uint32_t probes_attached() const { return attached_; }
  // Detaches every probe now (idempotent); the maps stay readable.
  void detach();

 private:
  AllocProbe() = default;
  go_alloc* skel_ = nullptr;
  uint32_t attached_ = 0;
};

}  // namespace mws::probes
