// FrameTable: interns frames, so each distinct Frame is stored once and
// named by a FrameId (Profile::frames). Filled while a profile is built or
// read; take() hands the frames to the Profile.
#pragma once

#include <map>
#include <vector>

#include "model/profile.h"

namespace mws::model {

class FrameTable {
 public:
  FrameId intern(const Frame& frame) {
    auto [it, fresh] = index_.try_emplace(frame, static_cast<FrameId>(frames_.size()));
    if (fresh) frames_.push_back(frame);
    return it->second;
  }
  const Frame& at(FrameId id) const { return frames_[id]; }
  size_t size() const { return frames_.size(); }
  std::vector<Frame> take() && { return std::move(frames_); }

 private:
  std::vector<Frame> frames_;
  std::map<Frame, FrameId> index_;
};

}  // namespace mws::model
