#include "report/threads.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "report/folded.h"
#include "report/text_format.h"

namespace mws {
namespace {

using namespace textfmt;

// The group's frames root first: the go statement, then the stack.
std::vector<std::string> folded_frames(const Profile& p, const ThreadGroup& g) {
  std::vector<std::string> out{folded_frame_name("[" + g.holder + "]")};
  for (auto it = g.creation_frame_ids.rbegin(); it != g.creation_frame_ids.rend(); ++it)
    out.push_back(folded_frame_name(p.frame(*it).function));
  for (auto it = g.frame_ids.rbegin(); it != g.frame_ids.rend(); ++it)
    out.push_back(folded_frame_name(p.frame(*it).function));
  if (g.holder == "not a Go thread") {
    out.push_back(folded_frame_name("[" + g.comm + "]"));
    if (!g.state.empty()) out.push_back(folded_frame_name("[" + g.state + "]"));
  }
  return out;
}

// The innermost frame of a stack that is not the runtime's: where the
// goroutine holding the thread waits, in the user's words.
std::string innermost_user_frame(const Profile& p, const std::vector<FrameId>& ids) {
  if (ids.empty()) return "";
  const Frame& f = p.frame(ids[site_frame_index(p, ids)]);
  return f.file.empty() ? function_name(f) : function_name(f) + " " + location(f);
}

std::string tid_list(const std::vector<uint32_t>& tids) {
  constexpr size_t kShown = 8;
  std::string s;
  for (size_t i = 0; i < tids.size() && i < kShown; i++) s += (i ? " " : "") + std::to_string(tids[i]);
  if (tids.size() > kShown) s += fmt::format(" ... ({} more)", tids.size() - kShown);
  return s;
}

}  // namespace

std::string render_threads_text(const Profile& p, size_t top_n) {
  const ThreadSummary& t = p.threads;
  if (!t.recorded) return "";
  std::string out = "\nThreads: OS threads of the target (--threads)\n";
  out += fmt::format("  live at attach {}, at the end {} ({} of them Go Ms); created while recording {}, exited {}; "
                     "dropped {}\n",
                     grouped(t.live_at_start), grouped(t.live_at_end), grouped(t.go_threads), grouped(t.created),
                     grouped(t.exited), grouped(t.dropped));
  if (!t.problem.empty()) out += "  note: " + printable(t.problem) + "\n";
  out += "\n  Live threads at the end, by what holds them\n";
  out += "    #  threads  created  holder              middleware\n";
  size_t shown = 0;
  for (const ThreadGroup& g : t.groups) {
    if (shown == top_n) break;
    out += fmt::format("  {:>3}  {:>7}  {:>7}  {}  {}\n", ++shown, grouped(g.count), grouped(g.created_while_recording),
                       pad(g.holder, 18), g.middleware.empty() ? "-" : printable(g.middleware));
    if (!g.start_function.empty())
      out += fmt::format("                             goroutine {}{}\n", printable(g.start_function),
                         g.state.empty() ? "" : ", " + printable(g.state));
    else if (!g.state.empty() || !g.comm.empty())
      out += fmt::format("                             {}{}\n", printable(g.comm),
                         g.state.empty() ? "" : ": " + printable(g.state));
    if (auto where = innermost_user_frame(p, g.frame_ids); !where.empty())
      out += fmt::format("                             {}: {}\n",
                         g.holder == "not a Go thread" ? "created by" : "at", printable(where));
    if (!g.creation_frame_ids.empty())
      out += fmt::format("                             go statement: {}\n",
                         printable(innermost_user_frame(p, g.creation_frame_ids)));
    out += fmt::format("                             tids: {}\n", tid_list(g.tids));
  }
  if (t.groups.size() > shown) out += fmt::format("  ... {} more groups\n", t.groups.size() - shown);
  if (!t.created_groups.empty()) {
    out += "\n  Threads created while recording, by the creator's stack (leaf first)\n";
    shown = 0;
    for (const CreatedThreadGroup& c : t.created_groups) {
      if (shown == top_n) break;
      out += fmt::format("  {:>3}  created {:>6}  exited {:>6}  by {}\n", ++shown, grouped(c.created),
                         grouped(c.exited), printable(c.comm));
      size_t frames = 0;
      for (FrameId id : c.frame_ids) {
        if (frames++ == 6) {
          out += fmt::format("             ... {} more frames\n", c.frame_ids.size() - 6);
          break;
        }
        out += "             " + printable(function_name(p.frame(id))) + "\n";
      }
    }
  }
  return out;
}

std::string render_threads_folded(const Profile& p) {
  std::map<std::string, uint64_t> lines;
  for (const ThreadGroup& g : p.threads.groups) {
    std::string line;
    for (const std::string& f : folded_frames(p, g)) line += (line.empty() ? "" : ";") + f;
    lines[line] += g.count;
  }
  std::string out;
  for (const auto& [line, n] : lines) out += fmt::format("{} {}\n", line, n);
  return out;
}

std::string describe_threads_folded(const Profile& p) {
  if (!p.threads.recorded) return "empty: --threads was not given";
  return fmt::format("{} live threads at the end in {} groups, by holder", p.threads.live_at_end,
                     p.threads.groups.size());
}

}  // namespace mws
