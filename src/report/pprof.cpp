#include "report/pprof.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/pprof_profile.pb.h"
#include "report/routes.h"
#include "report/weight.h"
#include "util/gzip.h"

namespace mws {
namespace {

// Builds one pprof Profile: interns strings, functions and locations so
// that each appears once, as the format expects.
class PprofBuilder {
 public:
  explicit PprofBuilder(const Profile& p) : p_(p) {
    out_.add_string_table("");  // index 0 is "" by the format's rule
    auto* mapping = out_.add_mapping();
    mapping->set_id(1);
    mapping->set_filename(str(p.meta.executable));
    // Frames come symbolized: pprof must not try to symbolize addresses.
    mapping->set_has_functions(true);
    mapping->set_has_filenames(true);
    mapping->set_has_line_numbers(true);
    mapping->set_has_inline_frames(true);
    out_.set_time_nanos(static_cast<int64_t>(p.meta.started_unix_ns));
    out_.set_duration_nanos(static_cast<int64_t>(p.meta.duration_s * 1e9));
  }

  int64_t str(std::string_view s) {
    auto [it, inserted] = strings_.try_emplace(std::string(s), out_.string_table_size());
    if (inserted) out_.add_string_table(std::string(s));
    return it->second;
  }

  void sample_type(std::string_view type, std::string_view unit) {
    auto* vt = out_.add_sample_type();
    vt->set_type(str(type));
    vt->set_unit(str(unit));
  }

  void period(std::string_view type, std::string_view unit, int64_t period) {
    out_.mutable_period_type()->set_type(str(type));
    out_.mutable_period_type()->set_unit(str(unit));
    out_.set_period(period);
  }

  void comment(std::string_view text) { out_.add_comment(str(text)); }
  void default_sample_type(std::string_view type) { out_.set_default_sample_type(str(type)); }

  // A sample on this stack (leaf first), with these values and labels.
  // Heap profiles hide the stack's leading runtime frames, as Go's do.
  void sample(const std::vector<FrameId>& leaf_first, std::initializer_list<int64_t> values,
              const std::vector<std::pair<std::string_view, std::string_view>>& labels, bool hide_runtime = false) {
    auto* s = out_.add_sample();
    // A location is one return address: the inlined frames before it and
    // the physical frame that holds them.
    std::vector<FrameId> frames;
    for (FrameId id : hide_runtime ? without_runtime_leaf(leaf_first) : std::span<const FrameId>(leaf_first)) {
      frames.push_back(id);
      if (!p_.frame(id).inlined) {
        s->add_location_id(location(frames));
        frames.clear();
      }
    }
    if (!frames.empty()) s->add_location_id(location(frames));  // a stack cut inside an inlined run
    for (int64_t v : values) s->add_value(v);
    for (auto [key, value] : labels) {
      if (value.empty()) continue;
      auto* l = s->add_label();
      l->set_key(str(key));
      l->set_str(str(value));
    }
  }

  std::string gzipped() const { return gzip(out_.SerializeAsString()); }

 private:
  // Go's own heap profiles start each stack at its first frame outside the
  // runtime (runtime/pprof hides the leading runtime.* frames, unless every
  // frame is one), so that pprof's top names the code that allocated, not
  // runtime.newobject. Its goroutine profiles keep them (runtime.gopark).
  std::span<const FrameId> without_runtime_leaf(const std::vector<FrameId>& leaf_first) const {
    size_t i = 0;
    while (i < leaf_first.size() && p_.frame(leaf_first[i]).function.starts_with("runtime.")) i++;
    if (i == leaf_first.size()) i = 0;
    return std::span<const FrameId>(leaf_first).subspan(i);
  }

  uint64_t function(const Frame& f) {
    auto key = std::make_pair(f.function, f.file);
    auto [it, inserted] = functions_.try_emplace(key, out_.function_size() + 1);
    if (inserted) {
      auto* fn = out_.add_function();
      fn->set_id(it->second);
      fn->set_name(str(f.function));
      fn->set_system_name(str(f.function));
      fn->set_filename(str(f.file));
    }
    return it->second;
  }

  uint64_t location(const std::vector<FrameId>& frames) {
    auto [it, inserted] = locations_.try_emplace(frames, out_.location_size() + 1);
    if (inserted) {
      auto* loc = out_.add_location();
      loc->set_id(it->second);
      loc->set_mapping_id(1);
      // No address: the frames carry no machine address once merged (one
      // frame, several return addresses). pprof keys locations by id.
      for (FrameId id : frames) {
        const Frame& f = p_.frame(id);
        auto* line = loc->add_line();
        line->set_function_id(function(f));
        line->set_line(f.line);
      }
    }
    return it->second;
  }

  const Profile& p_;
  mws::pprof::Profile out_;
  std::unordered_map<std::string, int64_t> strings_;
  std::map<std::pair<std::string, std::string>, uint64_t> functions_;
  std::map<std::vector<FrameId>, uint64_t> locations_;
};

int64_t clamp_signed(uint64_t v) { return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)); }

std::string mode_comment(const Profile& p) {
  if (!p.meta.allocations_tracked) return "allocations: not recorded (" + p.meta.allocations_unavailable + ")";
  if (p.sampled())
    return fmt::format("sampled mode: the Go runtime's heap samples (MemProfileRate {}), estimates scaled like Go's",
                       p.meta.sample_rate);
  return "exact mode: every allocation counted";
}

}  // namespace

std::string render_pprof_heap(const Profile& p) {
  PprofBuilder b(p);
  b.sample_type("alloc_objects", "count");
  b.sample_type("alloc_space", "bytes");
  b.sample_type("inuse_objects", "count");
  b.sample_type("inuse_space", "bytes");
  b.period("space", "bytes", p.sampled() && p.meta.sample_rate ? static_cast<int64_t>(p.meta.sample_rate) : 1);
  // What mwscope is for (who allocates) unless nothing was allocated.
  b.default_sample_type(p.meta.allocations_tracked ? "alloc_space" : "inuse_space");
  b.comment(fmt::format("mwscope {}: pid {} {} ({}), {:.1f} s", p.meta.tool_version, p.meta.pid, p.meta.executable,
                        p.meta.go_version, p.meta.duration_s));
  b.comment(mode_comment(p));
  b.comment(p.meta.heap_read ? "in use: the runtime's heap profile as of the last GC before the end"
                             : "in use: unknown (" + p.meta.heap_problem + ")");
  b.comment(fmt::format("dropped events: {}", p.meta.dropped_events));
  for (const ProfileStack& s : p.stacks) {
    const int64_t inuse_objects = std::max<int64_t>(s.inuse_objects, 0), inuse_bytes = std::max<int64_t>(s.inuse_bytes, 0);
    if (s.objects == 0 && s.bytes == 0 && inuse_objects == 0 && inuse_bytes == 0) continue;
    // One part of the stack (all of it, or one route's share): the parts
    // made in goroutines a middleware started get samples of their own,
    // labelled via_middleware (-tagfocus=via_middleware=main.FanOut); the
    // rest carries the heap in use. Within a route the goroutines' parts are
    // apportioned by the route's share of the stack (no finer record).
    auto part = [&](uint64_t objects, uint64_t bytes, int64_t inuse_o, int64_t inuse_b, std::string_view route) {
      const uint64_t part_objects = objects, part_bytes = bytes;
      for (const SpawnShare& share : s.spawned_by) {
        if (share.chain >= p.spawn_chains.size() || p.spawn_chains[share.chain].middleware.empty()) continue;
        const uint64_t o = std::min(objects, apportion(share.objects, part_objects, s.objects));
        const uint64_t by = std::min(bytes, apportion(share.bytes, part_bytes, s.bytes));
        if (o == 0 && by == 0) continue;
        b.sample(s.frame_ids, {clamp_signed(o), clamp_signed(by), 0, 0},
                 {{"middleware", s.middleware}, {"type", s.type},
                  {"via_middleware", p.spawn_chains[share.chain].middleware}, {"route", route}},
                 true);
        objects -= o;
        bytes -= by;
      }
      if (objects == 0 && bytes == 0 && inuse_o == 0 && inuse_b == 0) return;
      b.sample(s.frame_ids, {clamp_signed(objects), clamp_signed(bytes), inuse_o, inuse_b},
               {{"middleware", s.middleware}, {"type", s.type}, {"route", route}}, true);
    };
    if (s.by_route.empty()) {
      part(s.objects, s.bytes, inuse_objects, inuse_bytes, "");
      continue;
    }
    // Routes recorded: one part per route share, the heap in use split by
    // the shares' objects (apportioned: the runtime's profile knows no requests).
    // Shares that fall short of the stack (they should not) leave the rest
    // unlabelled rather than lost.
    const std::vector<int64_t> io = split_inuse(s, inuse_objects), ib = split_inuse(s, inuse_bytes);
    uint64_t objects = s.objects, bytes = s.bytes;
    for (size_t k = 0; k < s.by_route.size(); k++) {
      const RouteShare& r = s.by_route[k];
      const uint64_t o = std::min(r.objects, objects), by = std::min(r.bytes, bytes);
      part(o, by, io[k], ib[k], route_name(p, r.route));
      objects -= o;
      bytes -= by;
    }
    part(objects, bytes, 0, 0, "");
  }
  return b.gzipped();
}

std::string render_pprof_goroutines(const Profile& p) {
  PprofBuilder b(p);
  b.sample_type("goroutine", "count");
  b.period("goroutine", "count", 1);
  b.comment(fmt::format("mwscope {}: pid {} {} ({}), goroutines alive at the end", p.meta.tool_version, p.meta.pid,
                        p.meta.executable, p.meta.go_version));
  const GoroutineSnapshotSummary& g = p.goroutines;
  if (g.read) {
    b.comment(fmt::format("read from the target's memory; label verdict: leaked (why: unreachable, per request: "
                          "started per request and blocked at least {:.0f} s on a channel, select, lock or "
                          "condition, Go says), in-flight (a request blocked in its handler), long-lived (started "
                          "at start-up, waiting by design), suspect, none; state: the group's most common; the "
                          "runtime's own goroutines left out",
                          g.leak_age_s));
    for (const GoroutineGroup& grp : g.groups) {
      const bool parked = !grp.frame_ids.empty();
      const std::vector<FrameId>& stack = parked ? grp.frame_ids : grp.creation_frame_ids;
      const std::string_view where = parked ? "current" : "creation";
      const std::string state = grp.states.empty() ? "" : grp.states.front().first;
      const uint64_t none = grp.count - std::min(grp.count, grp.leaked + grp.in_flight + grp.long_lived + grp.suspect);
      const std::pair<std::string_view, uint64_t> verdicts[] = {
          {"leaked", grp.leaked}, {"in-flight", grp.in_flight}, {"long-lived", grp.long_lived},
          {"suspect", grp.suspect}, {"none", none}};
      // Routes recorded: each verdict's goroutines split by the route of
      // the request that started them (the leaked ones by the routes'
      // leaked counts, the others by what is left of each route, in
      // order); what no route covers stays unlabelled.
      std::vector<uint64_t> leaked_left, other_left;
      for (const RouteTaskCount& c : grp.by_route) {
        leaked_left.push_back(std::min(c.leaked, c.live));
        other_left.push_back(c.live - std::min(c.leaked, c.live));
      }
      const std::string why = leak_why(grp);
      for (const auto& [verdict, n] : verdicts) {
        if (n == 0) continue;
        auto emit = [&](uint64_t count, std::string_view route) {
          if (count == 0) return;
          std::vector<std::pair<std::string_view, std::string_view>> labels = {
              {"verdict", verdict}, {"leaked", verdict == "leaked" ? "true" : "false"}, {"state", state},
              {"middleware", grp.middleware}, {"stack", where}};
          if (verdict == "leaked") labels.push_back({"why", why});
          if (!route.empty()) labels.push_back({"route", route});
          b.sample(stack, {clamp_signed(count)}, labels);
        };
        uint64_t left = n;
        auto& per_route = verdict == "leaked" ? leaked_left : other_left;
        for (size_t k = 0; k < grp.by_route.size() && left > 0; k++) {
          const uint64_t take = std::min(per_route[k], left);
          per_route[k] -= take;
          left -= take;
          emit(take, route_name(p, grp.by_route[k].route));
        }
        emit(left, "");
      }
    }
  } else if (p.tasks.tracked) {
    // Not readable from memory: the goroutines the spawn probes saw born
    // and still alive, by creation stack.
    b.comment("goroutines could not be read from memory (" + g.problem +
              "): only those created while recording and alive at the end, by creation stack");
    for (const TaskGroup& t : p.tasks.groups) {
      if (t.live == 0) continue;
      // Routes recorded: one sample per route of the request whose
      // goroutine started them; what no route count covers, unlabelled.
      uint64_t live = t.live, leaked = std::min(t.leaked, t.live);
      auto group = [&](uint64_t n_live, uint64_t n_leaked, std::string_view route) {
        if (n_leaked)
          b.sample(t.creation_frame_ids, {clamp_signed(n_leaked)},
                   {{"leaked", "true"}, {"middleware", t.middleware}, {"stack", "creation"}, {"route", route}});
        if (n_live > n_leaked)
          b.sample(t.creation_frame_ids, {clamp_signed(n_live - n_leaked)},
                   {{"leaked", "false"}, {"middleware", t.middleware}, {"stack", "creation"}, {"route", route}});
      };
      for (const RouteTaskCount& c : t.by_route) {
        const uint64_t l = std::min(c.live, live), k = std::min({c.leaked, c.live, leaked});
        group(l, k, route_name(p, c.route));
        live -= l;
        leaked -= k;
      }
      group(live, std::min(leaked, live), "");
    }
  } else {
    b.comment("goroutines could not be read from memory (" + g.problem + ")");
  }
  return b.gzipped();
}

std::string describe_pprof_heap(const Profile& p) {
  std::string what = p.meta.allocations_tracked ? (p.sampled() ? "sampled-mode heap profile, estimates scaled like Go's"
                                                               : "exact-mode heap profile")
                                                : "heap profile without allocations (not recorded)";
  what += p.meta.heap_read ? ", in use as of the last GC" : ", in use unknown";
  return what + "; open with go tool pprof -http=:8080 FILE";
}

std::string describe_pprof_goroutines(const Profile& p) {
  if (p.goroutines.read)
    return fmt::format("goroutine profile: {} goroutines, {} leaked", p.goroutines.total, p.goroutines.leaked);
  if (p.tasks.tracked)
    return fmt::format("goroutine profile: only the {} created while recording and alive (memory unreadable: {})",
                       p.tasks.live_at_end, p.goroutines.problem);
  return "goroutine profile: EMPTY, the goroutines could not be read (" + p.goroutines.problem + ")";
}

}  // namespace mws
