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

// For fields added after a schema's first profiles: absent keeps `out` as
// it is (the model's default); present, it is read as strictly as any other.
template <typename J, typename T>
void read_optional(const J& obj, const char* key, T& out) {
  if (obj.contains(key)) read(obj, key, out);
}

// Reads obj[key] as an array of T, each element with from_json; errors name
// the element: "frames[2].line".
template <typename J, typename T>
void read_array(const J& obj, const char* key, std::vector<T>& out) {
  const J& v = field(obj, key);
  if (!v.is_array()) invalid(key, "expected an array, got " + describe(v));
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    T item;
    try {
      from_json(v[i], item);
    } catch (ProfileJsonError& e) {
      e.prepend(fmt::format("{}[{}]", key, i));
      throw;
    }
    out.push_back(std::move(item));
  }
}

template <typename J>
void frame_to(J& j, const Frame& f) {
  j = J::object();
  j["function"] = f.function;
  j["file"] = f.file;
  j["line"] = f.line;
  j["inlined"] = f.inlined;
}

template <typename J>
void frame_from(const J& j, Frame& f) {
  expect_object(j, "a frame object {function, file, line, inlined}");
  read(j, "function", f.function);
  read(j, "file", f.file);
  read(j, "line", f.line);
  read(j, "inlined", f.inlined);
}

template <typename J>
void stack_to(J& j, const ProfileStack& s) {
  j = J::object();
  j["objects"] = s.objects;
  j["bytes"] = s.bytes;
  j["type"] = s.type;
  j["middleware"] = s.middleware;
  j["samples"] = s.samples;
  j["sample_bytes"] = s.sample_bytes;
  j["freed_samples"] = s.freed_samples;
  j["freed_sample_bytes"] = s.freed_sample_bytes;
  j["inuse_samples"] = s.inuse_samples;
  j["inuse_sample_bytes"] = s.inuse_sample_bytes;
  j["inuse_objects"] = s.inuse_objects;
  j["inuse_bytes"] = s.inuse_bytes;
  j["tiny_block_objects"] = s.tiny_block_objects;
  j["frames"] = s.frame_ids;
}

template <typename J>
void stack_from(const J& j, ProfileStack& s) {
  expect_object(j, "a stack object {objects, bytes, frames}");
  read(j, "objects", s.objects);
  read(j, "bytes", s.bytes);
  read_optional(j, "type", s.type);
  read_optional(j, "middleware", s.middleware);
  // Sampled mode; absent in profiles written before it existed.
  read_optional(j, "samples", s.samples);
  read_optional(j, "sample_bytes", s.sample_bytes);
  read_optional(j, "freed_samples", s.freed_samples);
  read_optional(j, "freed_sample_bytes", s.freed_sample_bytes);
  read_optional(j, "inuse_samples", s.inuse_samples);
  read_optional(j, "inuse_sample_bytes", s.inuse_sample_bytes);
  read_optional(j, "inuse_objects", s.inuse_objects);
  read_optional(j, "inuse_bytes", s.inuse_bytes);
  read_optional(j, "tiny_block_objects", s.tiny_block_objects);
  // "frames" is read by profile_from, which knows the schema's frame table.
}

template <typename J>
void meta_to(J& j, const ProfileMeta& m) {
  j = J::object();
  j["tool_version"] = m.tool_version;
  j["pid"] = m.pid;
  j["executable"] = m.executable;
  j["go_version"] = m.go_version;
  j["mode"] = m.mode;
  j["allocations_tracked"] = m.allocations_tracked;
  j["started_unix_ns"] = m.started_unix_ns;
  // JSON has no NaN/Infinity (nlohmann would write null): write 0, "unknown".
  j["duration_s"] = std::isfinite(m.duration_s) ? m.duration_s : 0.0;
  j["probes_attached"] = m.probes_attached;
  j["events"] = m.events;
  j["dropped_events"] = m.dropped_events;
  j["stack_errors"] = m.stack_errors;
  j["truncated_stacks"] = m.truncated_stacks;
  j["cut"] = m.cut;
  j["sample_rate"] = m.sample_rate;
  j["gc_cycles"] = m.gc_cycles;
  j["inuse_window_s"] = std::isfinite(m.inuse_window_s) ? m.inuse_window_s : 0.0;
  j["unattributed_free_samples"] = m.unattributed_free_samples;
  j["unattributed_free_bytes"] = m.unattributed_free_bytes;
  j["tiny_allocs"] = m.tiny_allocs;
  j["tiny_allocs_counted"] = m.tiny_allocs_counted;
}

template <typename J>
void meta_from(const J& j, ProfileMeta& m) {
  expect_object(j, "an object");
  read(j, "tool_version", m.tool_version);
  read(j, "pid", m.pid);
  read(j, "executable", m.executable);
  read(j, "go_version", m.go_version);
  read(j, "mode", m.mode);
  // Optional, true when absent (profiles from before --no-allocs existed).
  read_optional(j, "allocations_tracked", m.allocations_tracked);
  read(j, "started_unix_ns", m.started_unix_ns);
  read(j, "duration_s", m.duration_s);
  read(j, "probes_attached", m.probes_attached);
  read(j, "events", m.events);
  read(j, "dropped_events", m.dropped_events);
  read(j, "stack_errors", m.stack_errors);
  read(j, "truncated_stacks", m.truncated_stacks);
  read_optional(j, "cut", m.cut);
  // Sampled mode; absent in profiles written before it existed.
  read_optional(j, "sample_rate", m.sample_rate);
  read_optional(j, "gc_cycles", m.gc_cycles);
  read_optional(j, "inuse_window_s", m.inuse_window_s);
  read_optional(j, "unattributed_free_samples", m.unattributed_free_samples);
  read_optional(j, "unattributed_free_bytes", m.unattributed_free_bytes);
  read_optional(j, "tiny_allocs", m.tiny_allocs);
  read_optional(j, "tiny_allocs_counted", m.tiny_allocs_counted);
}

template <typename J>
void task_group_to(J& j, const TaskGroup& g) {
  j = J::object();
  j["start_function"] = g.start_function;
  j["spawned"] = g.spawned;
  j["ended"] = g.ended;
  j["live"] = g.live;
  j["leaked"] = g.leaked;
  j["oldest_age_s"] = std::isfinite(g.oldest_age_s) ? g.oldest_age_s : 0.0;
  j["growth_per_min"] = std::isfinite(g.growth_per_min) ? g.growth_per_min : 0.0;
  J states = J::array();
  for (const auto& [state, n] : g.states) {
    J s = J::object();
    s["state"] = state;
    s["count"] = n;
    states.push_back(std::move(s));
  }
  j["states"] = std::move(states);
  j["middleware"] = g.middleware;
  j["creation_stack"] = g.creation_frame_ids;
}

template <typename J>
void task_group_from(const J& j, TaskGroup& g) {
  expect_object(j, "a task group object");
  read(j, "start_function", g.start_function);
  read(j, "spawned", g.spawned);
  read(j, "ended", g.ended);
  read(j, "live", g.live);
  read(j, "leaked", g.leaked);
  read(j, "oldest_age_s", g.oldest_age_s);
  read(j, "growth_per_min", g.growth_per_min);
  const J& states = field(j, "states");
  if (!states.is_array()) invalid("states", "expected an array, got " + describe(states));
  g.states.clear();
  for (size_t i = 0; i < states.size(); ++i) {
    std::pair<std::string, uint64_t> st;
    try {
      expect_object(states[i], "a state object {state, count}");
      read(states[i], "state", st.first);
      read(states[i], "count", st.second);
    } catch (ProfileJsonError& e) {
      e.prepend(fmt::format("states[{}]", i));
      throw;
    }
    g.states.push_back(std::move(st));
  }
  read_optional(j, "middleware", g.middleware);
  // "creation_stack" is read by profile_from, which knows the frame table.
}

template <typename J>
void preexisting_to(J& j, const PreexistingTaskGroup& g) {
  j = J::object();
  j["created_by"] = g.created_by;
  j["start_function"] = g.start_function;
  j["alive_at_attach"] = g.alive_at_attach;
}

template <typename J>
void preexisting_from(const J& j, PreexistingTaskGroup& g) {
  expect_object(j, "a preexisting task group object");
  read(j, "created_by", g.created_by);
  read(j, "start_function", g.start_function);
  read(j, "alive_at_attach", g.alive_at_attach);
}

template <typename J>
void tasks_to(J& j, const TaskSummary& t) {
  j = J::object();
  j["tracked"] = t.tracked;
  j["unavailable_reason"] = t.unavailable_reason;
  j["offsets_source"] = t.offsets_source;
  j["leak_age_s"] = std::isfinite(t.leak_age_s) ? t.leak_age_s : 0.0;
  j["spawned"] = t.spawned;
  j["ended"] = t.ended;
  j["live_at_end"] = t.live_at_end;
  j["leaked"] = t.leaked;
  j["preexisting_at_attach"] = t.preexisting_at_attach;
  j["preexisting_ended"] = t.preexisting_ended;
  j["dropped"] = t.dropped;
  J groups = J::array();
  for (const auto& g : t.groups) groups.push_back(J(g));
  j["groups"] = std::move(groups);
  J pre = J::array();
  for (const auto& g : t.preexisting) pre.push_back(J(g));
  j["preexisting"] = std::move(pre);
}

template <typename J>
void tasks_from(const J& j, TaskSummary& t) {
  expect_object(j, "an object");
  read(j, "tracked", t.tracked);
  read(j, "unavailable_reason", t.unavailable_reason);
  read(j, "offsets_source", t.offsets_source);
  read(j, "leak_age_s", t.leak_age_s);
  read(j, "spawned", t.spawned);
  read(j, "ended", t.ended);
  read(j, "live_at_end", t.live_at_end);
  read(j, "leaked", t.leaked);
  read(j, "preexisting_at_attach", t.preexisting_at_attach);
  read(j, "preexisting_ended", t.preexisting_ended);
  read(j, "dropped", t.dropped);
  read_array(j, "groups", t.groups);
  read_array(j, "preexisting", t.preexisting);
}

template <typename J>
void named_to(J& j, const NamedCount& c) {
  j = J::object();
  j["name"] = c.name;
  j["objects"] = c.objects;
  j["bytes"] = c.bytes;
  j["inuse_bytes"] = c.inuse_bytes;
}

template <typename J>
void named_from(const J& j, NamedCount& c) {
  expect_object(j, "an object {name, objects, bytes}");
  read(j, "name", c.name);
  read(j, "objects", c.objects);
  read(j, "bytes", c.bytes);
  read_optional(j, "inuse_bytes", c.inuse_bytes);
}

template <typename J>
void middleware_to(J& j, const MiddlewareRow& m) {
  j = J::object();
  j["name"] = m.name;
  j["objects"] = m.objects;
  j["bytes"] = m.bytes;
  j["inclusive_objects"] = m.inclusive_objects;
  j["inclusive_bytes"] = m.inclusive_bytes;
  j["objects_per_request"] = std::isfinite(m.objects_per_request) ? m.objects_per_request : 0.0;
  j["bytes_per_request"] = std::isfinite(m.bytes_per_request) ? m.bytes_per_request : 0.0;
  j["samples"] = m.samples;
  j["inuse_objects"] = m.inuse_objects;
  j["inuse_bytes"] = m.inuse_bytes;
  j["inuse_bytes_per_min"] = std::isfinite(m.inuse_bytes_per_min) ? m.inuse_bytes_per_min : 0.0;
  j["tiny_allocs_missed"] = m.tiny_allocs_missed;
  j["leaked_tasks"] = m.leaked_tasks;
  j["live_tasks"] = m.live_tasks;
  J sites = J::array(), types = J::array();
  for (const auto& c : m.top_sites) sites.push_back(J(c));
  for (const auto& c : m.top_types) types.push_back(J(c));
  j["top_sites"] = std::move(sites);
  j["top_types"] = std::move(types);
}

template <typename J>
void middleware_from(const J& j, MiddlewareRow& m) {
  expect_object(j, "a middleware object");
  read(j, "name", m.name);
  read(j, "objects", m.objects);
  read(j, "bytes", m.bytes);
  read(j, "inclusive_objects", m.inclusive_objects);
  read(j, "inclusive_bytes", m.inclusive_bytes);
  read(j, "objects_per_request", m.objects_per_request);
  read(j, "bytes_per_request", m.bytes_per_request);
  read_optional(j, "samples", m.samples);
  read_optional(j, "inuse_objects", m.inuse_objects);
  read_optional(j, "inuse_bytes", m.inuse_bytes);
  read_optional(j, "inuse_bytes_per_min", m.inuse_bytes_per_min);
  read_optional(j, "tiny_allocs_missed", m.tiny_allocs_missed);
  read(j, "leaked_tasks", m.leaked_tasks);
  read(j, "live_tasks", m.live_tasks);
  read_array(j, "top_sites", m.top_sites);
  read_array(j, "top_types", m.top_types);
}

template <typename J>
void chain_to(J& j, const MiddlewareChain& c) {
  j = J::object();
  j["names"] = c.names;
  j["objects"] = c.objects;
  j["bytes"] = c.bytes;
}

template <typename J>
void chain_from(const J& j, MiddlewareChain& c) {
  expect_object(j, "a chain object {names, objects, bytes}");
  const J& names = field(j, "names");
  if (!names.is_array()) invalid("names", "expected an array, got " + describe(names));
  c.names.clear();
  for (const auto& n : names) {
    if (!n.is_string()) invalid("names", "expected strings");
    c.names.push_back(n.template get<std::string>());
  }
  read(j, "objects", c.objects);
  read(j, "bytes", c.bytes);
}

template <typename J>
void rule_to(J& j, const RuleMatch& r) {
  j = J::object();
  j["pattern"] = r.pattern;
  j["frames_matched"] = r.frames_matched;
  j["functions"] = r.functions;
}

template <typename J>
void rule_from(const J& j, RuleMatch& r) {
  expect_object(j, "a rule object {pattern, frames_matched, functions}");
  read(j, "pattern", r.pattern);
  read(j, "frames_matched", r.frames_matched);
  const J& fns = field(j, "functions");
  if (!fns.is_array()) invalid("functions", "expected an array, got " + describe(fns));
  r.functions.clear();
  for (const auto& f : fns) {
    if (!f.is_string()) invalid("functions", "expected strings");
    r.functions.push_back(f.template get<std::string>());
  }
}

void write_json_impl(const Profile& p, std::ostream& out);

// The whole document as one tree (for callers that want one; the CLI
// streams it with write_json).
template <typename J>
void profile_to(J& j, const Profile& p) {
  std::ostringstream text;
  write_json_impl(p, text);
  j = J::parse(text.str());
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
  const bool inline_frames = schema->is_string() && schema->template get_ref<const std::string&>() == kProfileSchemaV1;
  if (!schema->is_string() ||
      (!inline_frames && schema->template get_ref<const std::string&>() != kProfileSchema)) {
    throw ProfileJsonError(Kind::Invalid, "",
                           fmt::format("unsupported schema {} (this mwscope reads \"{}\" and \"{}\")",
                                       schema->dump(), kProfileSchema, kProfileSchemaV1));
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
    read_array(j, "frames", frames);
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
  read_array(j, "stacks", p.stacks);
  const J& stacks = field(j, "stacks");
  for (size_t i = 0; i < p.stacks.size(); ++i) {
    try {
      read_frame_ids(stacks[i], "frames", p.stacks[i].frame_ids);
    } catch (ProfileJsonError& e) {
      e.prepend(fmt::format("stacks[{}]", i));
      throw;
    }
  }
  // Optional parts: older profiles may lack them.
  if (auto r = j.find("requests"); r != j.end()) {
    try {
      expect_object(*r, "an object {counted, requests, note}");
      read(*r, "counted", p.requests.counted);
      read(*r, "requests", p.requests.requests);
      read(*r, "note", p.requests.note);
    } catch (ProfileJsonError& e) {
      e.prepend("requests");
      throw;
    }
  }
  if (j.contains("middleware")) read_array(j, "middleware", p.middleware);
  if (j.contains("chains")) read_array(j, "chains", p.chains);
  if (j.contains("user_rules")) read_array(j, "user_rules", p.user_rules);
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
  if (auto t = j.find("tasks"); t != j.end()) {
    try {
      from_json(*t, p.tasks);
      const J& groups = field(*t, "groups");
      for (size_t i = 0; i < p.tasks.groups.size(); ++i) {
        try {
          read_frame_ids(groups[i], "creation_stack", p.tasks.groups[i].creation_frame_ids);
        } catch (ProfileJsonError& e) {
          e.prepend(fmt::format("groups[{}]", i));
          throw;
        }
      }
    } catch (ProfileJsonError& e) {
      e.prepend("tasks");
      throw;
    }
  }
  p.frames = std::move(table).take();
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

#define MWS_DEFINE_JSON(Type, stem)                                                  \
  void to_json(nlohmann::ordered_json& j, const Type& v) { stem##_to(j, v); }        \
  void from_json(const nlohmann::ordered_json& j, Type& v) { stem##_from(j, v); }    \
  void to_json(nlohmann::json& j, const Type& v) { stem##_to(j, v); }                \
  void from_json(const nlohmann::json& j, Type& v) { stem##_from(j, v); }
MWS_PROFILE_JSON_TYPES(MWS_DEFINE_JSON)
#undef MWS_DEFINE_JSON

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

void write_json_impl(const Profile& p, std::ostream& out) {
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
  J requests = J::object();
  requests["counted"] = p.requests.counted;
  requests["requests"] = p.requests.requests;
  requests["note"] = p.requests.note;
  write_member(out, "requests", requests);
  J middleware = J::array(), chains = J::array(), rules = J::array();
  for (const auto& m : p.middleware) middleware.push_back(J(m));
  for (const auto& c : p.chains) chains.push_back(J(c));
  for (const auto& r : p.user_rules) rules.push_back(J(r));
  write_member(out, "middleware", middleware);
  write_member(out, "chains", chains);
  write_member(out, "user_rules", rules);
  J owners = J::object();
  for (const auto& [closure, owner] : p.closure_owners) owners[closure] = owner;
  write_member(out, "closure_owners", owners, /*last=*/true);
  out << "}\n";
}

}  // namespace

void write_json(const Profile& p, std::ostream& out) { write_json_impl(p, out); }

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
