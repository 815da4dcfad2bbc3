#include "model/profile.h"

namespace mws {

RouteTaskCount& route_count(std::vector<RouteTaskCount>& counts, uint32_t route) {
  for (RouteTaskCount& c : counts)
    if (c.route == route) return c;
  return counts.emplace_back(RouteTaskCount{route, 0, 0});
}

bool is_runtime_function(std::string_view f) {
  return f.starts_with("runtime.") || f.starts_with("runtime/internal/") || f.starts_with("internal/");
}

size_t site_frame_index(const Profile& profile, const std::vector<FrameId>& frame_ids) {
  for (size_t i = 0; i < frame_ids.size(); ++i)
    if (!is_runtime_function(profile.frame(frame_ids[i]).function)) return i;
  return 0;
}

std::string parked_function(const Profile& profile, const GoroutineGroup& group) {
  if (group.frame_ids.empty()) return "[running]";
  return profile.frame(group.frame_ids[site_frame_index(profile, group.frame_ids)]).function;
}

uint64_t Profile::total_objects() const {
  uint64_t n = 0;
  for (const auto& s : stacks) n += s.objects;
  return n;
}

uint64_t Profile::total_bytes() const {
  uint64_t n = 0;
  for (const auto& s : stacks) n += s.bytes;
  return n;
}

std::string leak_why(const GoroutineGroup& g) {
  std::string why;
  auto add = [&](uint64_t n, const char* name) {
    if (!n) return;
    if (!why.empty()) why += '+';
    why += name;
  };
  add(g.leaked_unreachable, "unreachable");
  add(g.leaked_per_request, "per request");
  add(g.leaked_go_says, "Go says");
  return why;
}

}  // namespace mws
