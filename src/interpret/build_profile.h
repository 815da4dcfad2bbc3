// Interpreting a recording: a RawRecording (return addresses, counts,
// goroutine lifecycles) becomes a Profile (frames, types, estimates,
// goroutine groups), with the target's executable and nothing else of the
// target: this runs after the probes are gone.
#pragma once

#include <functional>
#include <string>

#include "collect/raw_recording.h"
#include "model/profile.h"
#include "target/elf_file.h"

namespace mws::interpret {

struct InterpretOptions {
  double leak_age_s = 30;  // live longer than this at the end = leaked
  // Non-fatal remarks: symbols unavailable, a report cut for memory...
  std::function<void(const std::string&)> on_notice;
};

// Consumes the recording: its raw stacks are freed as they are symbolized.
Profile build_profile(collect::RawRecording raw, const target::ElfFile& exe, const InterpretOptions& opt);

}  // namespace mws::interpret
