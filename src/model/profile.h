// Profile: one plain, serialisable snapshot of a recording. Every reporter
// reads a Profile and nothing else; `mwscope report profile.json` re-renders
// one without the target. Schema: docs/profile.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mws {

// One source-level frame. A machine return address may expand to several
// frames when calls were inlined (the inlined ones have inlined = true and
// come before the physical function that contains them).
struct Frame {
  std::string function;  // exactly as Go prints it: "main.Logging.func1"
  std::string file;      // empty when unknown
  uint32_t line = 0;     // 0 when unknown
  bool inlined = false;
  bool operator==(const Frame&) const = default;
};

struct ProfileStack {
  std::vector<Frame> frames;  // innermost (leaf) first, outermost (root) last
  uint64_t objects = 0;       // allocations seen with this stack
  uint64_t bytes = 0;         // bytes requested by them
  bool operator==(const ProfileStack&) const = default;
};

// What was recorded, from where, and what was lost.
struct ProfileMeta {
  std::string tool_version;
  int32_t pid = 0;
  std::string executable;   // path of the target's executable as opened
  std::string go_version;   // "go1.19.8", empty when not Go
  std::string mode;         // "exact"
  uint64_t started_unix_ns = 0;
  double duration_s = 0;    // wall time the probes were live
  uint32_t probes_attached = 0;
  uint64_t events = 0;        // events received and aggregated
  uint64_t dropped_events = 0;  // lost in BPF (ring buffer full) or over a limit in userspace
  uint64_t stack_errors = 0;    // events recorded without a usable stack
  uint64_t truncated_stacks = 0;  // stacks cut at MWS_MAX_STACK_DEPTH
  bool operator==(const ProfileMeta&) const = default;
};

struct Profile {
  ProfileMeta meta;
  std::vector<ProfileStack> stacks;  // unordered; each distinct stack once
  bool operator==(const Profile&) const = default;

  uint64_t total_objects() const;
  uint64_t total_bytes() const;
};

}  // namespace mws
