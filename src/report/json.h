// JSON form of a Profile: the saved recording that `mwscope report` re-renders
// without the target. Schema "mwscope.profile/3" (a frame table, stacks name
// frames by index; "mwscope.profile/1", frames inline, is still read),
// documented in docs/profile.md. parse_profile_json(render_json(p)) == p for every Profile
// whose strings are valid UTF-8 and whose duration_s is finite (see below).
#pragma once

#include <exception>
#include <iosfwd>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/profile.h"
#include "util/result.h"

namespace mws {

// Schema 3: in-use is the heap in use from the runtime's profile. Schema 2
// (frames by index) and 1 (frames inline) still read; their in-use figures
// meant a change between GCs, and are dropped when read.
inline constexpr std::string_view kProfileSchema = "mwscope.profile/3";
inline constexpr std::string_view kProfileSchemaV2 = "mwscope.profile/2";
inline constexpr std::string_view kProfileSchemaV1 = "mwscope.profile/1";

// Pretty-printed (2-space indent; each frame and each stack on one line),
// ends with '\n'. Writes the computed
// `totals` for human readers. Bytes that are not valid UTF-8 in a string are
// written as U+FFFD (JSON text must be UTF-8); a non-finite duration_s is
// written as 0.
// write_json streams it to `out` one frame or stack at a time, so the
// document never exists whole in memory; render_json returns it as a string.
void write_json(const Profile& profile, std::ostream& out);
std::string render_json(const Profile& profile);

// Parses and validates a whole document. On error, one line:
// "<source>: missing field stacks[3].objects",
// "<source>: unsupported schema \"x\" ...", "<source>: malformed JSON: ...".
// Fields not in the schema (such as `totals`) are ignored.
Result<Profile> parse_profile_json(std::string_view text,
                                   std::string_view source = "profile JSON");

// Thrown by the from_json functions below (nlohmann's interface requires
// exceptions); parse_profile_json turns it into an Error. path() is the
// field, relative to the value being read: "stacks[3].frames[0].line".
class ProfileJsonError : public std::exception {
 public:
  enum class Kind { Missing, Invalid };
  ProfileJsonError(Kind kind, std::string path, std::string problem);
  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& path() const { return path_; }
  // Makes the path relative to the enclosing value: "objects" -> "stacks[3].objects".
  void prepend(std::string_view parent);

 private:
  void compose();
  Kind kind_;
  std::string path_;
  std::string problem_;
  std::string message_;
};

// nlohmann ADL hooks, for both the ordered (used for writing: fields in the
// order json.cpp's fields() lists them) and the default json type. Every
// model type with a JSON form; each one's fields are described once, in
// json.cpp. Profile's own (schema check, frame table) is written by hand.
#define MWS_PROFILE_JSON_TYPES(X)                                                              \
  X(Frame) X(ProfileStack) X(ProfileMeta) X(TaskGroup) X(PreexistingTaskGroup) X(TaskSummary) X(GoroutineEvidence) X(GoroutineGroup) \
  X(ReachabilityScan) X(GoroutineSnapshotSummary) \
  X(ThreadGroup) X(CreatedThreadGroup) X(ThreadSummary)                                                 \
  X(RequestCount) X(NamedCount) X(MiddlewareRow) X(MiddlewareChain) X(RuleMatch) X(CHeapStack)              \
  X(CHeapMiddlewareRow) X(CHeapSummary) X(SpawnShare) X(ChainCount) X(SpawnChain) \
  X(RouteShare) X(RouteTaskCount) X(ProfileRoute) X(RouteSummary)

#define MWS_DECLARE_JSON(Type)                                    \
  void to_json(nlohmann::ordered_json& j, const Type& v);         \
  void from_json(const nlohmann::ordered_json& j, Type& v);       \
  void to_json(nlohmann::json& j, const Type& v);                 \
  void from_json(const nlohmann::json& j, Type& v);
MWS_PROFILE_JSON_TYPES(MWS_DECLARE_JSON)
#undef MWS_DECLARE_JSON
// Reading only: a Profile is written by write_json, streamed.
void from_json(const nlohmann::ordered_json& j, Profile& v);
void from_json(const nlohmann::json& j, Profile& v);

}  // namespace mws
