// The target's goroutines as its runtime knows them, read from memory:
// runtime.allgs (every g ever created; dead ones are reused) and the
// fields of each g. Layout from target/go_abi.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "target/go_abi.h"
#include "target/remote_memory.h"
#include "util/result.h"

namespace mws::target {

struct GoroutineState {
  uint32_t status = 0;  // g.atomicstatus (scan bit included)
  uint8_t waitreason = 0;
};

struct GoroutineSnapshot {
  uint64_t g_addr = 0, goid = 0, startpc = 0, gopc = 0;
  GoroutineState state;
};

// State of one g; nullopt when unreadable or the layout lacks the fields.
std::optional<GoroutineState> read_goroutine_state(const RemoteMemory& mem, uint64_t g_addr,
                                                   const GoRuntimeOffsets& off);

// How a goroutine waits, as Go's traceback says it: its wait reason when
// waiting ("chan receive"; "... (leaked, says Go)" for _Gleaked), else its
// status ("runnable").
std::string describe_goroutine_state(const GoroutineState& st, const std::string& go_version);

// Every goroutine in allgs that is not dead. `allgs_addr` is the runtime
// address of the runtime.allgs slice header.
Result<std::vector<GoroutineSnapshot>> read_live_goroutines(const RemoteMemory& mem, uint64_t allgs_addr,
                                                            const GoRuntimeOffsets& off);

}  // namespace mws::target
