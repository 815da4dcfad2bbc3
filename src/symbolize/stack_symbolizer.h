// StackSymbolizer: raw stacks (return addresses, innermost first) to
// interned frames. One per profile: every stack and goroutine group of it
// shares its frame table, which take_frames() hands to Profile::frames at
// the end; each return address is symbolized once.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "model/frame_table.h"
#include "model/profile.h"
#include "symbolize/process_symbolizer.h"

namespace mws::symbolize {

class StackSymbolizer {
 public:
  explicit StackSymbolizer(ProcessSymbolizer& sym) : sym_(sym) {}
  // Frames leaf first, up to the frame a Go stack starts from (goexit,
  // mstart...): beyond it the frame-pointer chain leaves Go code.
  std::vector<FrameId> symbolize(const std::vector<uint64_t>& pcs);
  // The same for a stack in runtime.Callers' form (the runtime's profile
  // buckets): one PC per source frame, an inlined call being a PC just past
  // its inline mark. Each PC gives its innermost frame; the frames it is
  // inlined into come from the next PCs, and are added here only when the
  // next PC is not theirs (a stack cut at the runtime's depth limit), as
  // runtime.CallersFrames does.
  std::vector<FrameId> symbolize_callers(const std::vector<uint64_t>& pcs);
  const Frame& frame(FrameId id) const { return table_.at(id); }
  // A frame no address stands for ("malloc", the C allocator called).
  FrameId intern(const Frame& frame) { return table_.intern(frame); }
  ProcessSymbolizer& process() { return sym_; }
  std::vector<Frame> take_frames() && { return std::move(table_).take(); }

 private:
  const std::vector<FrameId>& frames_at(uint64_t ret_addr);
  ProcessSymbolizer& sym_;
  model::FrameTable table_;
  std::unordered_map<uint64_t, std::vector<FrameId>> by_address_;
};

}  // namespace mws::symbolize
