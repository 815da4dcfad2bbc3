// Tests build Profiles from whole frames; these put the frames into the
// profile's frame table (Profile::frames) and give back what a Profile
// stores, or the frames behind it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/profile.h"

namespace mws::test {

inline std::vector<FrameId> intern(Profile& p, const std::vector<Frame>& frames) {
  std::vector<FrameId> ids;
  for (const Frame& f : frames) {
    FrameId id = 0;
    while (id < p.frames.size() && !(p.frames[id] == f)) id++;
    if (id == p.frames.size()) p.frames.push_back(f);
    ids.push_back(id);
  }
  return ids;
}

inline ProfileStack make_stack(Profile& p, const std::vector<Frame>& frames, uint64_t objects, uint64_t bytes,
                               std::string type = "", std::string middleware = "") {
  ProfileStack s;
  s.frame_ids = intern(p, frames);
  s.objects = objects;
  s.bytes = bytes;
  s.type = std::move(type);
  s.middleware = std::move(middleware);
  return s;
}

inline std::vector<Frame> frames_of(const Profile& p, const std::vector<FrameId>& ids) {
  std::vector<Frame> out;
  for (FrameId id : ids) out.push_back(p.frame(id));
  return out;
}

inline std::vector<std::string_view> functions_of(const std::vector<Frame>& frames) {
  std::vector<std::string_view> out;
  for (const Frame& f : frames) out.push_back(f.function);
  return out;
}

}  // namespace mws::test
