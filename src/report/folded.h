// Folded stacks ("collapsed" format): the input of flamegraph.pl, inferno
// and speedscope. Definition: docs/profile.md#folded-stacks.
#pragma once

#include <iosfwd>
#include <string>

#include "model/profile.h"
#include "report/weight.h"

namespace mws {

// One line per distinct rendered stack: frames root first, leaf last, joined
// by ';', then one space and the summed weight. Frames are Go function names
// only (no file:line), so stacks that differ only in lines are merged. Lines
// with weight 0 are left out; lines are sorted by their text. Every line ends
// with '\n'; an empty Profile gives "". With group_by_middleware, every
// stack starts with its owning middleware (ProfileStack::middleware) as an
// extra root frame, so a flame graph splits by middleware first.
// Allocations made in goroutines created while recording (their spawn
// chains, ProfileStack::spawned_by) have the creation stacks that led to
// them spliced above their own stack, outermost generation first, each
// followed by the frame "[go statement]": the flame graph shows the work a
// middleware handed to goroutines under that middleware. In-use weights are
// not split. Weights still sum to the same totals.
// write_folded streams the lines to `out`, holding only name indexes per line
// (a million stacks are not a gigabyte of text first); render_folded returns
// them as one string.
inline constexpr const char* kGoStatementFrame = "[go statement]";

// What an extra root frame groups the stacks by (--group-by): nothing, the
// owning middleware, or the route (ProfileStack::by_route: one line per
// route share, "(no route recorded)" for a stack without shares; in-use
// weights are split by the shares' objects, apportioned). Within a route,
// the spliced spawn chains are apportioned by the route's share.
enum class FoldedGroupBy { None, Middleware, Route };

void write_folded(const Profile& profile, Weight weight, FoldedGroupBy group_by, std::ostream& out);
std::string render_folded(const Profile& profile, Weight weight, FoldedGroupBy group_by);
inline void write_folded(const Profile& profile, Weight weight, bool group_by_middleware, std::ostream& out) {
  write_folded(profile, weight, group_by_middleware ? FoldedGroupBy::Middleware : FoldedGroupBy::None, out);
}
inline std::string render_folded(const Profile& profile, Weight weight, bool group_by_middleware = false) {
  return render_folded(profile, weight, group_by_middleware ? FoldedGroupBy::Middleware : FoldedGroupBy::None);
}

// What the numbers of render_folded(profile, weight) are, for the CLI to
// print beside the file name (the file itself stays pure folded lines):
// "exact mode, bytes", "sampled mode (MemProfileRate 4096), estimated
// bytes", "sampled mode (MemProfileRate 4096), raw samples".
std::string describe_folded(const Profile& profile, Weight weight);

// The text one frame name becomes in folded output (exposed for tests and
// for other formats that must match folded frame names).
std::string folded_frame_name(const std::string& function);

}  // namespace mws
