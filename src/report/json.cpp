#include "report/json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "model/frame_table.h"
#include "report/weight.h"

namespace mws {

ProfileJsonError::ProfileJsonError(Kind kind, std::string path, std::string problem)
    : kind_(kind), path_(std::move(path)), problem_(std::move(problem)) {
  compose();
}

void ProfileJsonError::prepend(std::string_view parent) {
  std::string p(parent);
  if (!path_.empty()) {
    if (path_[0] != '[') p += '.';
    p += path_;
  }
  path_ = std::move(p);
  compose();
}

void ProfileJsonError::compose() {
  if (kind_ == Kind::Missing) {
    message_ = "missing field " + path_;
  } else if (path_.empty()) {
    message_ = problem_;
  } else {
    message_ = "field " + path_ + ": " + problem_;
  }
}

namespace {

using Kind = ProfileJsonError::Kind;

template <typename J>
std::string describe(const J& v) {
  if (v.is_number()) return "number " + v.dump();
  if (v.is_boolean()) return v.dump();
  return std::string(v.type_name());
}

template <typename J>
void expect_object(const J& j, std::string_view what) {
  if (!j.is_object()) {
    throw ProfileJsonError(Kind::Invalid, "", fmt::format("expected {}, got {}", what, describe(j)));
  }
}

template <typename J>
const J& field(const J& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) throw ProfileJsonError(Kind::Missing, key, "");
  return *it;
}

[[noreturn]] void invalid(const char* key, std::string problem) {
  throw ProfileJsonError(Kind::Invalid, key, std::move(problem));
}

template <typename J>
void read(const J& obj, const char* key, std::string& out) {
  const J& v = field(obj, key);
  if (!v.is_string()) invalid(key, "expected a string, got " + describe(v));
  out = v.template get_ref<const std::string&>();
}

template <typename J>
void read(const J& obj, const char* key, bool& out) {
  const J& v = field(obj, key);
  if (!v.is_boolean()) invalid(key, "expected true or false, got " + describe(v));
  out = v.template get<bool>();
}

template <typename J>
void read(const J& obj, const char* key, double& out) {
  const J& v = field(obj, key);
  if (!v.is_number()) invalid(key, "expected a number, got " + describe(v));
  out = v.template get<double>();
}

template <typename J>
uint64_t read_unsigned(const J& obj, const char* key, uint64_t max) {
  const J& v = field(obj, key);
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.template get<int64_t>() < 0)) {
    invalid(key, "expected a non-negative integer, got " + describe(v));
  }
  const uint64_t x = v.template get<uint64_t>();
  if (x > max) invalid(key, fmt::format("value {} out of range (max {})", x, max));
  return x;
}

template <typename J>
void read(const J& obj, const char* key, uint64_t& out) {
  out = read_unsigned(obj, key, std::numeric_limits<uint64_t>::max());
}

template <typename J>
void read(const J& obj, const char* key, uint32_t& out) {
  out = static_cast<uint32_t>(read_unsigned(obj, key, std::numeric_limits<uint32_t>::max()));
}

template <typename J>
int64_t read_signed(const J& obj, const char* key, int64_t lo, int64_t hi, std::string_view what) {
  const J& v = field(obj, key);
  if (!v.is_number_integer()) invalid(key, "expected an integer, got " + describe(v));
  const bool in_range = v.is_number_unsigned()
                            ? v.template get<uint64_t>() <= static_cast<uint64_t>(hi)
                            : (v.template get<int64_t>() >= lo && v.template get<int64_t>() <= hi);
  if (!in_range) invalid(key, fmt::format("value {} out of range for {}", v.dump(), what));
  return v.template get<int64_t>();
}

template <typename J>
void read(const J& obj, const char* key, int32_t& out) {
  out = static_cast<int32_t>(read_signed(obj, key, std::numeric_limits<int32_t>::min(),
                                         std::numeric_limits<int32_t>::max(), "a 32-bit integer"));
}

template <typename J>
void read(const J& obj, const char* key, int64_t& out) {
  out = read_signed(obj, key, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max(), "a 64-bit signed integer");
}

template <typename J, typename T>
void read(const J& obj, const char* key, std::vector<T>& out);

// A member that is itself a model object (GoroutineSnapshotSummary::reachability).
template <typename J>
void read(const J& obj, const char* key, ReachabilityScan& out) {
  try {
    from_json(field(obj, key), out);
  } catch (ProfileJsonError& e) {
    e.prepend(key);
    throw;
  }
}

// Every field of each model type, described once. `fields(v, x)` names
// each member, required (req) or optional when reading (opt: absent keeps
// the model's default; added after a schema's first profiles), and the
// writer and the reader below walk the same list. `object` names the type
// in errors; `frame_ids` are written here and read by profile_from, which
// knows the schema's frame table.
template <typename V, typename T>
void fields(V& v, T& f) requires std::is_same_v<std::remove_const_t<T>, Frame> {
  v.object("a frame object {function, file, line, inlined}");
  v.req("function", f.function);
  v.req("file", f.file);
  v.req("line", f.line);
  v.req("inlined", f.inlined);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, ProfileStack> {
  v.object("a stack object {objects, bytes, frames}");
  v.req("objects", s.objects);
  v.req("bytes", s.bytes);
  v.opt("type", s.type);
  v.opt("middleware", s.middleware);
  // Sampled mode: absent in profiles written before it existed.
  v.opt("samples", s.samples);
  v.opt("sample_bytes", s.sample_bytes);
  v.opt("freed_samples", s.freed_samples);
  v.opt("freed_sample_bytes", s.freed_sample_bytes);
  v.opt("inuse_samples", s.inuse_samples);
  v.opt("inuse_sample_bytes", s.inuse_sample_bytes);
  v.opt("inuse_objects", s.inuse_objects);
  v.opt("inuse_bytes", s.inuse_bytes);
  v.opt("inuse_change_objects", s.inuse_change_objects);
  v.opt("inuse_change_bytes", s.inuse_change_bytes);
  v.opt("tiny_block_objects", s.tiny_block_objects);
  v.opt("spawned_by", s.spawned_by);  // goroutine creation tracked
  v.opt("by_route", s.by_route);      // --by-route
  v.frame_ids("frames", s.frame_ids);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, RouteShare> {
  v.object("a route share object {route, objects, bytes, samples}");
  v.req("route", s.route);
  v.req("objects", s.objects);
  v.req("bytes", s.bytes);
  v.opt("samples", s.samples);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, RouteTaskCount> {
  v.object("an object {route, live, leaked}");
  v.req("route", c.route);
  v.req("live", c.live);
  v.req("leaked", c.leaked);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, ProfileRoute> {
  v.object("a route object {name, router, requests}");
  v.req("name", r.name);
  v.req("router", r.router);
  v.req("requests", r.requests);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, RouteSummary> {
  v.object("an object {recorded, ...}");
  v.req("recorded", r.recorded);
  v.opt("unavailable", r.unavailable);
  v.opt("routers", r.routers);
  v.opt("refused", r.refused);
  v.opt("route_events", r.route_events);
  v.opt("truncated", r.truncated);
  v.opt("read_errors", r.read_errors);
  v.opt("over_cap", r.over_cap);
  v.opt("no_room", r.no_room);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, SpawnShare> {
  v.object("a share object {chain, objects, bytes, samples}");
  v.req("chain", s.chain);
  v.req("objects", s.objects);
  v.req("bytes", s.bytes);
  v.opt("samples", s.samples);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, ChainCount> {
  v.object("an object {chain, count}");
  v.req("chain", c.chain);
  v.req("count", c.count);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, SpawnChain> {
  v.object("a spawn chain object {middleware, creation_stacks}");
  v.req("middleware", c.middleware);
  v.frame_id_lists("creation_stacks", c.creation_stacks);
}

template <typename V, typename T>
void fields(V& v, T& m) requires std::is_same_v<std::remove_const_t<T>, ProfileMeta> {
  v.object("an object");
  v.req("tool_version", m.tool_version);
  v.req("pid", m.pid);
  v.req("executable", m.executable);
  v.req("go_version", m.go_version);
  v.req("mode", m.mode);
  v.opt("allocations_tracked", m.allocations_tracked);  // true when absent: before --no-allocs existed
  v.opt("allocations_unavailable", m.allocations_unavailable);
  v.req("started_unix_ns", m.started_unix_ns);
  v.req("duration_s", m.duration_s);
  v.req("probes_attached", m.probes_attached);
  v.req("events", m.events);
  v.req("dropped_events", m.dropped_events);
  v.opt("dropped_ring_full", m.dropped_ring_full);
  v.opt("dropped_over_limit", m.dropped_over_limit);
  v.req("stack_errors", m.stack_errors);
  v.req("truncated_stacks", m.truncated_stacks);
  v.opt("cut", m.cut);
  // Sampled mode: absent in profiles written before it existed.
  v.opt("sample_rate", m.sample_rate);
  v.opt("unattributed_free_samples", m.unattributed_free_samples);
  v.opt("unattributed_free_bytes", m.unattributed_free_bytes);
  v.opt("tiny_allocs", m.tiny_allocs);
  v.opt("tiny_allocs_counted", m.tiny_allocs_counted);
  // Schema 3: the heap in use, from the runtime's profile.
  v.opt("heap_read", m.heap_read);
  v.opt("heap_problem", m.heap_problem);
  v.opt("heap_profile_rate", m.heap_profile_rate);
  v.opt("gc_cycles", m.gc_cycles);
  v.opt("heap_unreadable_buckets", m.heap_unreadable_buckets);
  v.opt("heap_read_s", m.heap_read_s);
  v.opt("spawn_ctx_lost", m.spawn_ctx_lost);
  v.opt("spawn_unresolved_objects", m.spawn_unresolved_objects);
}

template <typename V, typename T>
void fields(V& v, T& g) requires std::is_same_v<std::remove_const_t<T>, TaskGroup> {
  v.object("a task group object");
  v.req("start_function", g.start_function);
  v.req("spawned", g.spawned);
  v.req("ended", g.ended);
  v.req("live", g.live);
  v.req("leaked", g.leaked);
  v.req("oldest_age_s", g.oldest_age_s);
  v.req("growth_per_min", g.growth_per_min);
  v.req("states", g.states);  // [{"state", "count"}]
  v.opt("middleware", g.middleware);
  v.opt("leaked_by_creator_chain", g.leaked_by_creator_chain);
  v.opt("by_route", g.by_route);  // --by-route
  v.frame_ids("creation_stack", g.creation_frame_ids);
}

template <typename V, typename T>
void fields(V& v, T& g) requires std::is_same_v<std::remove_const_t<T>, PreexistingTaskGroup> {
  v.object("a preexisting task group object");
  v.req("created_by", g.created_by);
  v.req("start_function", g.start_function);
  v.req("alive_at_attach", g.alive_at_attach);
}

template <typename V, typename T>
void fields(V& v, T& t) requires std::is_same_v<std::remove_const_t<T>, TaskSummary> {
  v.object("an object");
  v.req("tracked", t.tracked);
  v.req("unavailable_reason", t.unavailable_reason);
  v.req("offsets_source", t.offsets_source);
  v.req("leak_age_s", t.leak_age_s);
  v.req("spawned", t.spawned);
  v.req("ended", t.ended);
  v.req("live_at_end", t.live_at_end);
  v.req("leaked", t.leaked);
  v.req("preexisting_at_attach", t.preexisting_at_attach);
  v.req("preexisting_ended", t.preexisting_ended);
  v.req("dropped", t.dropped);
  v.req("groups", t.groups);
  v.req("preexisting", t.preexisting);
}

template <typename V, typename T>
void fields(V& v, T& e) requires std::is_same_v<std::remove_const_t<T>, GoroutineEvidence> {
  v.object("a goroutine evidence object");
  v.req("count", e.count);
  v.opt("at_attach", e.at_attach);
  v.opt("blocked_long", e.blocked_long);
  v.opt("unreachable", e.unreachable);
  v.opt("go_says", e.go_says);
  v.opt("from_request", e.from_request);
  v.opt("in_flight", e.in_flight);
  v.opt("undecided", e.undecided);
}

template <typename V, typename T>
void fields(V& v, T& g) requires std::is_same_v<std::remove_const_t<T>, GoroutineGroup> {
  v.object("a goroutine group object");
  v.req("start_function", g.start_function);
  v.req("count", g.count);
  v.opt("at_attach", g.at_attach);
  v.opt("origin", g.origin);
  v.req("leaked", g.leaked);
  v.req("leaked_before_attach", g.leaked_before_attach);
  v.opt("leaked_unreachable", g.leaked_unreachable);
  v.opt("leaked_go_says", g.leaked_go_says);
  v.opt("leaked_per_request", g.leaked_per_request);
  v.opt("in_flight", g.in_flight);
  v.opt("long_lived", g.long_lived);
  v.opt("suspect", g.suspect);
  v.opt("evidence", g.evidence);
  v.req("blocked_s", g.blocked_s);
  v.req("states", g.states);
  v.opt("middleware", g.middleware);
  v.opt("by_route", g.by_route);  // --by-route
  v.frame_ids("stack", g.frame_ids);
  v.frame_ids("creation_stack", g.creation_frame_ids);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, GoroutineSnapshotSummary> {
  v.object("an object");
  v.req("read", s.read);
  v.req("problem", s.problem);
  v.req("at_attach", s.at_attach);
  v.req("total", s.total);
  v.opt("total_at_attach", s.total_at_attach);
  v.opt("duration_s", s.duration_s);
  v.req("runtime", s.runtime);
  v.req("leaked", s.leaked);
  v.opt("in_flight", s.in_flight);
  v.opt("long_lived", s.long_lived);
  v.opt("suspect", s.suspect);
  v.req("leak_age_s", s.leak_age_s);
  v.opt("reachability", s.reachability);
  v.opt("read_s", s.read_s);
  v.opt("decide_s", s.decide_s);
  v.req("groups", s.groups);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, ReachabilityScan> {
  v.object("a reachability scan object");
  v.req("ran", r.ran);
  v.opt("problem", r.problem);
  v.opt("cut_short", r.cut_short);
  v.opt("candidates", r.candidates);
  v.opt("unreachable", r.unreachable);
  v.opt("bytes_scanned", r.bytes_scanned);
  v.opt("seconds", r.seconds);
}

template <typename V, typename T>
void fields(V& v, T& g) requires std::is_same_v<std::remove_const_t<T>, ThreadGroup> {
  v.object("a thread group object");
  v.req("holder", g.holder);
  v.req("state", g.state);
  v.req("comm", g.comm);
  v.req("start_function", g.start_function);
  v.opt("middleware", g.middleware);
  v.req("count", g.count);
  v.req("created_while_recording", g.created_while_recording);
  v.req("tids", g.tids);
  v.frame_ids("stack", g.frame_ids);
  v.frame_ids("creation_stack", g.creation_frame_ids);
}

template <typename V, typename T>
void fields(V& v, T& g) requires std::is_same_v<std::remove_const_t<T>, CreatedThreadGroup> {
  v.object("a created thread group object");
  v.req("comm", g.comm);
  v.req("created", g.created);
  v.req("exited", g.exited);
  v.frame_ids("stack", g.frame_ids);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, ThreadSummary> {
  v.object("an object");
  v.req("recorded", s.recorded);
  v.req("problem", s.problem);
  v.req("live_at_start", s.live_at_start);
  v.req("live_at_end", s.live_at_end);
  v.req("created", s.created);
  v.req("exited", s.exited);
  v.req("dropped", s.dropped);
  v.req("go_threads", s.go_threads);
  v.req("groups", s.groups);
  v.req("created_groups", s.created_groups);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, RequestCount> {
  v.object("an object {counted, requests, note}");
  v.req("counted", r.counted);
  v.req("requests", r.requests);
  v.req("note", r.note);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, NamedCount> {
  v.object("an object {name, objects, bytes}");
  v.req("name", c.name);
  v.req("objects", c.objects);
  v.req("bytes", c.bytes);
  v.opt("inuse_bytes", c.inuse_bytes);
}

template <typename V, typename T>
void fields(V& v, T& m) requires std::is_same_v<std::remove_const_t<T>, MiddlewareRow> {
  v.object("a middleware object");
  v.req("name", m.name);
  v.req("objects", m.objects);
  v.req("bytes", m.bytes);
  v.req("inclusive_objects", m.inclusive_objects);
  v.req("inclusive_bytes", m.inclusive_bytes);
  v.req("objects_per_request", m.objects_per_request);
  v.req("bytes_per_request", m.bytes_per_request);
  v.opt("samples", m.samples);
  v.opt("inuse_objects", m.inuse_objects);
  v.opt("inuse_bytes", m.inuse_bytes);
  v.opt("inuse_change_bytes", m.inuse_change_bytes);
  v.opt("inuse_bytes_per_min", m.inuse_bytes_per_min);
  v.opt("tiny_allocs_missed", m.tiny_allocs_missed);
  v.req("leaked_tasks", m.leaked_tasks);
  v.req("live_tasks", m.live_tasks);
  // Via goroutines it started (goroutine creation tracked).
  v.opt("via_objects", m.via_objects);
  v.opt("via_bytes", m.via_bytes);
  v.opt("via_samples", m.via_samples);
  v.opt("via_objects_per_request", m.via_objects_per_request);
  v.opt("via_bytes_per_request", m.via_bytes_per_request);
  v.opt("via_leaked_tasks", m.via_leaked_tasks);
  v.opt("self_via_middleware_objects", m.self_via_middleware_objects);
  v.opt("self_via_middleware_bytes", m.self_via_middleware_bytes);
  v.req("top_sites", m.top_sites);
  v.req("top_types", m.top_types);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, MiddlewareChain> {
  v.object("a chain object {names, objects, bytes}");
  v.req("names", c.names);
  v.req("objects", c.objects);
  v.req("bytes", c.bytes);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, RuleMatch> {
  v.object("a rule object {pattern, frames_matched, functions}");
  v.req("pattern", r.pattern);
  v.req("frames_matched", r.frames_matched);
  v.req("functions", r.functions);
}

template <typename V, typename T>
void fields(V& v, T& s) requires std::is_same_v<std::remove_const_t<T>, CHeapStack> {
  v.object("a C heap stack object");
  v.frame_ids("frames", s.frame_ids);
  v.req("middleware", s.middleware);
  v.req("allocs", s.allocs);
  v.req("bytes", s.bytes);
  v.req("frees", s.frees);
  v.req("freed_bytes", s.freed_bytes);
  v.req("inuse_objects", s.inuse_objects);
  v.req("inuse_bytes", s.inuse_bytes);
  v.req("oldest_inuse_age_s", s.oldest_inuse_age_s);
}

template <typename V, typename T>
void fields(V& v, T& r) requires std::is_same_v<std::remove_const_t<T>, CHeapMiddlewareRow> {
  v.object("a C heap middleware object");
  v.req("name", r.name);
  v.req("allocs", r.allocs);
  v.req("bytes", r.bytes);
  v.req("inuse_objects", r.inuse_objects);
  v.req("inuse_bytes", r.inuse_bytes);
}

template <typename V, typename T>
void fields(V& v, T& c) requires std::is_same_v<std::remove_const_t<T>, CHeapSummary> {
  v.object("an object");
  v.req("recorded", c.recorded);
  v.req("unavailable", c.unavailable);
  v.req("libc", c.libc);
  v.req("go_stacks_unavailable", c.go_stacks_unavailable);
  v.req("allocs", c.allocs);
  v.req("bytes", c.bytes);
  v.req("frees", c.frees);
  v.req("freed_bytes", c.freed_bytes);
  v.req("inuse_objects", c.inuse_objects);
  v.req("inuse_bytes", c.inuse_bytes);
  v.req("frees_before_attach", c.frees_before_attach);
  v.req("chunk_bytes_freed_before_attach", c.chunk_bytes_freed_before_attach);
  v.req("without_go_stack", c.without_go_stack);
  v.req("dropped", c.dropped);
  v.req("unmatched_returns", c.unmatched_returns);
  v.req("middleware", c.middleware);
  v.req("stacks", c.stacks);
}

// Writes the fields into a JSON object, in the order fields() lists them.
template <typename J>
struct JsonWriter {
  J& j;
  void object(const char*) { j = J::object(); }
  template <typename T>
  void req(const char* key, const T& v) { j[key] = value(v); }
  template <typename T>
  void opt(const char* key, const T& v) { j[key] = value(v); }
  void frame_ids(const char* key, const std::vector<FrameId>& v) { j[key] = v; }
  void frame_id_lists(const char* key, const std::vector<std::vector<FrameId>>& v) { j[key] = v; }

  // JSON has no NaN or Infinity (nlohmann would write null): 0, "unknown".
  static J value(double d) { return std::isfinite(d) ? d : 0.0; }
  static J value(const std::pair<std::string, uint64_t>& state) {
    J o = J::object();
    o["state"] = state.first;
    o["count"] = state.second;
    return o;
  }
  template <typename T>
  static J value(const std::vector<T>& items) {
    J a = J::array();
    for (const auto& x : items) a.push_back(value(x));
    return a;
  }
  template <typename T>
  static J value(const T& v) { return J(v); }  // numbers, strings, bools, model types (to_json)
};

// Reads the fields back from a JSON object, each as strictly as its type
// allows; errors name the field ("stacks[3].objects").
template <typename J>
struct JsonReader {
  const J& j;
  void object(const char* what) { expect_object(j, what); }
  template <typename T>
  void req(const char* key, T& v) { read(j, key, v); }
  template <typename T>
  void opt(const char* key, T& v) {
    if (j.contains(key)) read(j, key, v);
  }
  void frame_ids(const char*, std::vector<FrameId>&) {}
  void frame_id_lists(const char*, std::vector<std::vector<FrameId>>&) {}
};

template <typename J>
void read_item(const J& v, std::string& out) {
  if (!v.is_string()) throw ProfileJsonError(Kind::Invalid, "", "expected a string, got " + describe(v));
  out = v.template get<std::string>();
}

template <typename J>
void read_item(const J& v, std::pair<std::string, uint64_t>& out) {
  expect_object(v, "a state object {state, count}");
  read(v, "state", out.first);
  read(v, "count", out.second);
}

template <typename J>
void read_item(const J& v, uint32_t& out) {  // a thread id
  if (!v.is_number_unsigned() || v.template get<uint64_t>() > std::numeric_limits<uint32_t>::max())
    throw ProfileJsonError(Kind::Invalid, "", "expected a thread id, got " + describe(v));
  out = v.template get<uint32_t>();
}

template <typename J, typename T>
void read_item(const J& v, T& out) {
  from_json(v, out);
}

// Reads obj[key] as an array of T; errors name the element: "frames[2].line".
template <typename J, typename T>
void read(const J& obj, const char* key, std::vector<T>& out) {
  const J& v = field(obj, key);
  if (!v.is_array()) invalid(key, "expected an array, got " + describe(v));
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    T item;
    try {
      read_item(v[i], item);
    } catch (ProfileJsonError& e) {
      e.prepend(fmt::format("{}[{}]", key, i));
      throw;
    }
    out.push_back(std::move(item));
  }
}

template <typename J, typename T>
void to(J& j, const T& x) {
  JsonWriter<J> w{j};
  fields(w, x);
}

template <typename J, typename T>
void from(const J& j, T& x) {
  JsonReader<J> r{j};
  fields(r, x);
}

// Schemas 1 and 2 wrote as in-use the change between two GCs seen while
// recording, not the heap in use: never shown as if it were.
void forget_old_inuse(Profile& p) {
  p.meta.heap_read = false;
  p.meta.heap_problem = "recorded by an older mwscope (schema 1 or 2), which did not read the heap in use";
  for (ProfileStack& s : p.stacks)
    s.inuse_samples = s.inuse_sample_bytes = s.inuse_objects = s.inuse_bytes = s.inuse_change_objects =
        s.inuse_change_bytes = 0;
  for (MiddlewareRow& m : p.middleware) {
    m.inuse_objects = m.inuse_bytes = m.inuse_change_bytes = 0;
    m.inuse_bytes_per_min = 0;
    for (auto& c : m.top_sites) c.inuse_bytes = 0;
    for (auto& c : m.top_types) c.inuse_bytes = 0;
  }
}

template <typename J>
void profile_from(const J& j, Profile& p) {
  if (!j.is_object()) {
    throw ProfileJsonError(Kind::Invalid, "",
                           "expected a JSON object at the top level, got " + describe(j));
  }
  auto schema = j.find("schema");
  if (schema == j.end()) {
    throw ProfileJsonError(Kind::Invalid, "",
                           fmt::format("missing field schema (not an mwscope profile? expected "
                                       "\"schema\": \"{}\")",
                                       kProfileSchema));
  }
  const std::string version = schema->is_string() ? schema->template get_ref<const std::string&>() : std::string();
  const bool inline_frames = version == kProfileSchemaV1;
  const bool old_inuse = version != kProfileSchema;
  if (version != kProfileSchema && version != kProfileSchemaV2 && version != kProfileSchemaV1) {
    throw ProfileJsonError(Kind::Invalid, "",
                           fmt::format("unsupported schema {} (this mwscope reads \"{}\", \"{}\" and \"{}\")",
                                       schema->dump(), kProfileSchema, kProfileSchemaV2, kProfileSchemaV1));
  }
  const J& meta = field(j, "meta");
  try {
    from_json(meta, p.meta);
  } catch (ProfileJsonError& e) {
    e.prepend("meta");
    throw;
  }
  // Schema 2 names frames by index into a top-level "frames" table; schema
  // 1 wrote each stack's frames inline, and they are interned here.
  model::FrameTable table;
  if (!inline_frames) {
    std::vector<Frame> frames;
    read(j, "frames", frames);
    for (const Frame& f : frames) table.intern(f);
    if (table.size() != frames.size()) invalid("frames", "a frame is listed twice");
  }
  auto read_frame_ids = [&](const J& obj, const char* key, std::vector<FrameId>& out) {
    const J& v = field(obj, key);
    if (!v.is_array()) invalid(key, "expected an array, got " + describe(v));
    out.clear();
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      try {
        if (inline_frames) {
          Frame f;
          from_json(v[i], f);
          out.push_back(table.intern(f));
        } else {
          if (!v[i].is_number_unsigned() || v[i].template get<uint64_t>() >= table.size())
            throw ProfileJsonError(Kind::Invalid, "",
                                   fmt::format("expected a frame index below {}, got {}", table.size(), describe(v[i])));
          out.push_back(static_cast<FrameId>(v[i].template get<uint64_t>()));
        }
      } catch (ProfileJsonError& e) {
        e.prepend(fmt::format("{}[{}]", key, i));
        throw;
      }
    }
  };
  // The frame lists of each item of `items` (already read from `array`),
  // a failure naming the item: stacks[3].frames[0].
  auto read_frames_of_each = [&](const J& array, const char* name, auto& items, auto&& read_item_frames) {
    for (size_t i = 0; i < items.size(); ++i) {
      try {
        read_item_frames(array[i], items[i]);
      } catch (ProfileJsonError& e) {
        e.prepend(fmt::format("{}[{}]", name, i));
        throw;
      }
    }
  };
  // An optional part (older profiles may lack it), then its groups' frames.
  auto read_part = [&](const char* key, auto& part, auto&& read_groups) {
    auto it = j.find(key);
    if (it == j.end()) return;
    try {
      from_json(*it, part);
      read_groups(*it);
    } catch (ProfileJsonError& e) {
      e.prepend(key);
      throw;
    }
  };
  read(j, "stacks", p.stacks);
  read_frames_of_each(field(j, "stacks"), "stacks", p.stacks,
                      [&](const J& s, ProfileStack& out) { read_frame_ids(s, "frames", out.frame_ids); });
  if (j.contains("spawn_chains")) {
    read(j, "spawn_chains", p.spawn_chains);
    read_frames_of_each(field(j, "spawn_chains"), "spawn_chains", p.spawn_chains, [&](const J& c, SpawnChain& out) {
      const J& lists = field(c, "creation_stacks");
      if (!lists.is_array()) invalid("creation_stacks", "expected an array, got " + describe(lists));
      out.creation_stacks.resize(lists.size());
      for (size_t i = 0; i < lists.size(); ++i) {
        J holder = J::object();
        holder["frames"] = lists[i];
        try {
          read_frame_ids(holder, "frames", out.creation_stacks[i]);
        } catch (ProfileJsonError& e) {
          e.prepend(fmt::format("creation_stacks[{}]", i));
          throw;
        }
      }
    });
    for (const ProfileStack& s : p.stacks)
      for (const SpawnShare& share : s.spawned_by)
        if (share.chain >= p.spawn_chains.size()) invalid("spawn_chains", "a stack names a chain that is not listed");
  }
  if (j.contains("routes")) {
    read(j, "routes", p.routes);
    for (const ProfileStack& s : p.stacks)
      for (const RouteShare& share : s.by_route)
        if (share.route >= p.routes.size()) invalid("routes", "a stack names a route that is not listed");
  }
  read_part("route_summary", p.route_summary, [](const J&) {});
  read_part("requests", p.requests, [](const J&) {});
  if (j.contains("middleware")) read(j, "middleware", p.middleware);
  if (j.contains("chains")) read(j, "chains", p.chains);
  if (j.contains("user_rules")) read(j, "user_rules", p.user_rules);
  if (auto o = j.find("closure_owners"); o != j.end()) {
    try {
      expect_object(*o, "an object {closure: owner}");
      for (auto it = o->begin(); it != o->end(); ++it) {
        if (!it->is_string()) throw ProfileJsonError(Kind::Invalid, it.key(), "expected a string, got " + describe(*it));
        p.closure_owners[it.key()] = it->template get<std::string>();
      }
    } catch (ProfileJsonError& e) {
      e.prepend("closure_owners");
      throw;
    }
  }
  read_part("tasks", p.tasks, [&](const J& t) {
    read_frames_of_each(field(t, "groups"), "groups", p.tasks.groups, [&](const J& g, TaskGroup& out) {
      read_frame_ids(g, "creation_stack", out.creation_frame_ids);
    });
  });
  read_part("c_heap", p.c_heap, [&](const J& c) {
    read_frames_of_each(field(c, "stacks"), "stacks", p.c_heap.stacks,
                        [&](const J& s, CHeapStack& out) { read_frame_ids(s, "frames", out.frame_ids); });
  });
  read_part("goroutines", p.goroutines, [&](const J& s) {  // schema 3
    read_frames_of_each(field(s, "groups"), "groups", p.goroutines.groups, [&](const J& g, GoroutineGroup& out) {
      read_frame_ids(g, "stack", out.frame_ids);
      read_frame_ids(g, "creation_stack", out.creation_frame_ids);
    });
  });
  read_part("threads", p.threads, [&](const J& s) {  // --threads
    read_frames_of_each(field(s, "groups"), "groups", p.threads.groups, [&](const J& g, ThreadGroup& out) {
      read_frame_ids(g, "stack", out.frame_ids);
      read_frame_ids(g, "creation_stack", out.creation_frame_ids);
    });
    read_frames_of_each(field(s, "created_groups"), "created_groups", p.threads.created_groups,
                        [&](const J& g, CreatedThreadGroup& out) { read_frame_ids(g, "stack", out.frame_ids); });
  });
  p.frames = std::move(table).take();
  if (old_inuse) forget_old_inuse(p);
}

// The deepest nesting of arrays and objects in JSON text (brackets inside
// strings do not count); malformed text is left to the parser.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Makes a library message one line and drops nlohmann's "[json.exception.x.N] ".
std::string one_line(std::string s) {
  if (s.rfind("[json.exception.", 0) == 0) {
    const auto end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

#define MWS_DEFINE_JSON(Type)                                                  \
  void to_json(nlohmann::ordered_json& j, const Type& v) { to(j, v); }        \
  void from_json(const nlohmann::ordered_json& j, Type& v) { from(j, v); }    \
  void to_json(nlohmann::json& j, const Type& v) { to(j, v); }                \
  void from_json(const nlohmann::json& j, Type& v) { from(j, v); }
MWS_PROFILE_JSON_TYPES(MWS_DEFINE_JSON)
#undef MWS_DEFINE_JSON
void from_json(const nlohmann::ordered_json& j, Profile& v) { profile_from(j, v); }
void from_json(const nlohmann::json& j, Profile& v) { profile_from(j, v); }

namespace {

// Writes `value` as the member `key` of the top-level object, indented by
// one level.
void write_member(std::ostream& out, std::string_view key, const nlohmann::ordered_json& value, bool last = false) {
  std::string text = value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  out << "  \"" << key << "\": ";
  for (char c : text) {
    out.put(c);
    if (c == '\n') out << "  ";
  }
  out << (last ? "\n" : ",\n");
}

// Writes the member `key` as an array of `items`, one compact element per
// line, converting one element at a time: the frames and stacks of a big
// recording never exist as one JSON tree.
template <typename T>
void write_array_member(std::ostream& out, std::string_view key, const std::vector<T>& items) {
  out << "  \"" << key << "\": [";
  for (size_t i = 0; i < items.size(); ++i) {
    out << (i ? ",\n    " : "\n    ");
    out << nlohmann::ordered_json(items[i]).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  out << (items.empty() ? "],\n" : "\n  ],\n");
}

}  // namespace

void write_json(const Profile& p, std::ostream& out) {
  using J = nlohmann::ordered_json;
  out << "{\n";
  write_member(out, "schema", J(kProfileSchema));
  write_member(out, "meta", J(p.meta));
  J totals = J::object();
  totals["objects"] = total_weight(p, Weight::Objects);
  totals["bytes"] = total_weight(p, Weight::Bytes);
  totals["samples"] = total_weight(p, Weight::Samples);
  write_member(out, "totals", totals);
  write_array_member(out, "frames", p.frames);
  write_array_member(out, "stacks", p.stacks);
  write_member(out, "tasks", J(p.tasks));
  write_member(out, "goroutines", J(p.goroutines));
  if (p.threads.recorded) write_member(out, "threads", J(p.threads));
  write_array_member(out, "spawn_chains", p.spawn_chains);
  write_member(out, "requests", J(p.requests));
  if (p.route_summary.recorded || !p.route_summary.unavailable.empty()) {
    write_array_member(out, "routes", p.routes);
    write_member(out, "route_summary", J(p.route_summary));
  }
  if (p.c_heap.recorded) write_member(out, "c_heap", J(p.c_heap));
  write_member(out, "middleware", J(p.middleware));
  write_member(out, "chains", J(p.chains));
  write_member(out, "user_rules", J(p.user_rules));
  write_member(out, "closure_owners", J(p.closure_owners), /*last=*/true);
  out << "}\n";
}

std::string render_json(const Profile& profile) {
  std::ostringstream out;
  write_json(profile, out);
  return std::move(out).str();
}

Result<Profile> parse_profile_json(std::string_view text, std::string_view source) {
  const std::string src(source);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error{src + ": empty, expected a JSON profile (" + std::string(kProfileSchema) + ")"};
  }
  try {
    // A profile nests 5 levels deep (tasks.groups[i].states[k]); refuse
    // absurd nesting before it costs memory. Checked by a scan of its own:
    // nlohmann's parse callback costs time quadratic in an array's length
    // (it searches the parent for discarded values at every object's end),
    // minutes for a million stacks.
    static constexpr int kMaxDepth = 32;
    if (nesting_depth(text) > kMaxDepth)
      throw ProfileJsonError(Kind::Invalid, "",
                             fmt::format("nested deeper than {} levels: not an mwscope profile", kMaxDepth));
    const nlohmann::json j = nlohmann::json::parse(text.begin(), text.end());
    Profile p;
    from_json(j, p);
    return p;
  } catch (const ProfileJsonError& e) {
    return Error{src + ": " + one_line(e.what())};
  } catch (const nlohmann::json::parse_error& e) {
    return Error{src + ": malformed JSON: " + one_line(e.what())};
  } catch (const nlohmann::json::exception& e) {
    return Error{src + ": invalid profile: " + one_line(e.what())};
  } catch (const std::bad_alloc&) {
    return Error{src + ": out of memory while reading the profile"};
  }
}

}  // namespace mws
