// The terminal report: what an SRE reads first. Header (target, mode,
// recording, totals, losses), the top allocation sites, and the heaviest call chain of
// each of the top 5 sites. Fits 120 columns; output is deterministic.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "model/profile.h"
#include "report/weight.h"

namespace mws {

inline constexpr size_t kTextWidth = 120;

// top_n: how many sites the table lists; 0 lists all of them.
std::string render_text(const Profile& profile, Weight weight, size_t top_n);

// An allocation site: the innermost frame of a stack that is not in the Go
// runtime, summed over every stack that has it as its site. Exposed so tests
// (and other reports) agree with the text report on what a site is.
struct AllocationSite {
  Frame frame;          // function "[no stack]" for stacks without frames
  uint64_t objects = 0;
  uint64_t bytes = 0;
  uint64_t samples = 0;                      // sampled mode: raw samples behind objects/bytes
  int64_t inuse_objects = 0, inuse_bytes = 0;  // sampled mode: in use as of the last GC (estimates)
  size_t stacks = 0;    // how many ProfileStacks have this site
  const ProfileStack* heaviest = nullptr;  // heaviest of them by the chosen weight
  size_t site_index = 0;                   // index of `frame` in heaviest->frame_ids
};

// Sites with a non-zero weight, heaviest first; ties by function, file, line.
std::vector<AllocationSite> allocation_sites(const Profile& profile, Weight weight);



}  // namespace mws
