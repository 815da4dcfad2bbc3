// JSON form of a Profile: the saved recording that `mwscope report` re-renders
// without the target. Schema "mwscope.profile/1", documented in
// docs/profile.md. parse_profile_json(render_json(p)) == p for every Profile
// whose strings are valid UTF-8 and whose duration_s is finite (see below).
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/profile.h"
#include "util/result.h"

namespace mws {

inline constexpr std::string_view kProfileSchema = "mwscope.profile/1";

// Pretty-printed (2-space indent), ends with '\n'. Writes the computed
// `totals` for human readers. Bytes that are not valid UTF-8 in a string are
// written as U+FFFD (JSON text must be UTF-8); a non-finite duration_s is
// written as 0.
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

// nlohmann ADL hooks, for both the ordered (used for writing: keeps `schema`
// and `meta` at the top of the file) and the default json type.
void to_json(nlohmann::ordered_json& j, const Frame& f);
void to_json(nlohmann::ordered_json& j, const ProfileStack& s);
void to_json(nlohmann::ordered_json& j, const ProfileMeta& m);
void to_json(nlohmann::ordered_json& j, const Profile& p);  // whole document
void from_json(const nlohmann::ordered_json& j, Frame& f);
void from_json(const nlohmann::ordered_json& j, ProfileStack& s);
void from_json(const nlohmann::ordered_json& j, ProfileMeta& m);
void to_json(nlohmann::ordered_json& j, const TaskGroup& g);
void to_json(nlohmann::ordered_json& j, const PreexistingTaskGroup& g);
void to_json(nlohmann::ordered_json& j, const TaskSummary& t);
void from_json(const nlohmann::ordered_json& j, TaskGroup& g);
void from_json(const nlohmann::ordered_json& j, PreexistingTaskGroup& g);
void from_json(const nlohmann::ordered_json& j, TaskSummary& t);
void to_json(nlohmann::ordered_json& j, const NamedCount& c);
void to_json(nlohmann::ordered_json& j, const MiddlewareRow& m);
void to_json(nlohmann::ordered_json& j, const MiddlewareChain& c);
void to_json(nlohmann::ordered_json& j, const RuleMatch& r);
void from_json(const nlohmann::ordered_json& j, NamedCount& c);
void from_json(const nlohmann::ordered_json& j, MiddlewareRow& m);
void from_json(const nlohmann::ordered_json& j, MiddlewareChain& c);
void from_json(const nlohmann::ordered_json& j, RuleMatch& r);
void from_json(const nlohmann::ordered_json& j, Profile& p);  // checks schema

void to_json(nlohmann::json& j, const Frame& f);
void to_json(nlohmann::json& j, const ProfileStack& s);
void to_json(nlohmann::json& j, const ProfileMeta& m);
void to_json(nlohmann::json& j, const Profile& p);
void from_json(const nlohmann::json& j, Frame& f);
void from_json(const nlohmann::json& j, ProfileStack& s);
void from_json(const nlohmann::json& j, ProfileMeta& m);
void to_json(nlohmann::json& j, const TaskGroup& g);
void to_json(nlohmann::json& j, const PreexistingTaskGroup& g);
void to_json(nlohmann::json& j, const TaskSummary& t);
void from_json(const nlohmann::json& j, TaskGroup& g);
void from_json(const nlohmann::json& j, PreexistingTaskGroup& g);
void from_json(const nlohmann::json& j, TaskSummary& t);
void to_json(nlohmann::json& j, const NamedCount& c);
void to_json(nlohmann::json& j, const MiddlewareRow& m);
void to_json(nlohmann::json& j, const MiddlewareChain& c);
void to_json(nlohmann::json& j, const RuleMatch& r);
void from_json(const nlohmann::json& j, NamedCount& c);
void from_json(const nlohmann::json& j, MiddlewareRow& m);
void from_json(const nlohmann::json& j, MiddlewareChain& c);
void from_json(const nlohmann::json& j, RuleMatch& r);
void from_json(const nlohmann::json& j, Profile& p);

}  // namespace mws
