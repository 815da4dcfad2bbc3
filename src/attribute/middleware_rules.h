// Which frames of a stack are HTTP middleware (or the final handler of a
// chain), and what to call them.
//
// A frame is middleware when:
//  - it is called by a dispatcher that runs "the next handler":
//    net/http.HandlerFunc.ServeHTTP (closures, chi/gorilla/alice
//    middleware), gin's (*Context).Next, negroni's and caddy's HandlerFunc
//    adapters;
//  - it is a ServeHTTP method of a type that is not a router or adapter
//    (pkg.(*T).ServeHTTP, pkg.T.ServeHTTP; caddy's ServeHTTP(w, r, next));
//  - it is in an echo chain: below (*Echo).ServeHTTP, echo calls each
//    MiddlewareFunc's closure directly; every closure outside echo's own
//    package is a layer, and the first non-closure is the final handler;
//  - its function matches a user pattern (--middleware REGEX).
// Frames of the frameworks' own packages (and of net/http) are never
// middleware; a framework's frames are its own row (innermost_framework).
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <unordered_map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/profile.h"
#include "util/result.h"

namespace mws::attribute {

struct MiddlewareFrame {
  size_t frame = 0;  // index into the leaf-first functions
  std::string name;  // "main.Logging"
};

// "main.Logging.func1" -> "main.Logging"; "main.(*auth).ServeHTTP" ->
// "main.auth"; "main.(*API).get-fm" -> "main.(*API).get"; others unchanged.
std::string middleware_name(std::string_view function);

// The innermost frame (leaf first) of a router or middleware framework's
// own package (gorilla/mux, negroni, chi, gin, echo, alice, caddyhttp),
// named after the package: "github.com/gorilla/mux". Not net/http.
std::optional<MiddlewareFrame> innermost_framework(std::span<const std::string_view> functions);

// The row an allocation (or a goroutine) made at the leaf of `functions` is
// charged to: the innermost of the user middleware frames (`chain`, from
// MiddlewareRules::chain) and the frames of a framework's own package; the
// runtime, the standard library and other libraries between belong to
// whoever called them. So a user middleware pays for its code and the
// libraries it calls, and the glue a framework runs around and between
// middleware (negroni's next closure, mux's route matching) is the
// framework's. nullopt when neither is on the stack (net/http's own work:
// the caller says "(server)").
std::optional<std::string> owning_row(const std::vector<MiddlewareFrame>& chain,
                                      std::span<const std::string_view> functions);

// Closures Go renamed after inlining -> the function that made them
// (Profile::closure_owners).
using mws::ClosureOwners;

class MiddlewareRules {
 public:
  // Fails with a one-line message naming a pattern that does not compile.
  static Result<MiddlewareRules> create(const std::vector<std::string>& user_patterns);

  // The middleware frames of a stack (the functions of its frames, leaf
  // first), outermost first. A closure in `owners` is named after its maker.
  std::vector<MiddlewareFrame> chain(std::span<const std::string_view> functions,
                                     const ClosureOwners& owners = {}) const;

  const std::vector<std::string>& user_patterns() const { return patterns_; }
  // Whether user pattern i matches this function.
  bool user_match(size_t i, std::string_view function) const;

 private:
  bool is_middleware(std::span<const std::string_view> functions, size_t i, bool in_echo_chain) const;
  // Whether any user pattern matches: each distinct function is matched
  // once, not once per stack it appears in (a profile has up to 2^20 stacks
  // over a few thousand functions, and std::regex is slow).
  bool any_user_match(std::string_view function) const;
  std::vector<std::string> patterns_;
  std::vector<std::regex> regexes_;
  mutable std::unordered_map<std::string, bool> user_matched_;
};

}  // namespace mws::attribute
