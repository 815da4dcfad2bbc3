#include "attribute/middleware_rules.h"

#include <array>

#include "symbolize/go_closure_names.h"

namespace mws::attribute {
namespace {

using namespace std::string_view_literals;

// Functions that call "the next handler": the frame they call is middleware.
constexpr std::array kDispatchers = {
    "net/http.HandlerFunc.ServeHTTP"sv,
    "github.com/gin-gonic/gin.(*Context).Next"sv,
    "github.com/gin-gonic/gin.WrapF.func1"sv,  // a net/http handler function as a gin handler
    "github.com/urfave/negroni.HandlerFunc.ServeHTTP"sv,
    "github.com/urfave/negroni/v3.HandlerFunc.ServeHTTP"sv,
    "github.com/caddyserver/caddy/v2/modules/caddyhttp.HandlerFunc.ServeHTTP"sv,
    "github.com/caddyserver/caddy/v2/modules/caddyhttp.MiddlewareHandlerFunc.ServeHTTP"sv,
    // gorilla/mux builds its r.Use chain per request: the factory it calls
    // here makes the middleware's closure, like echo's factories.
    "github.com/gorilla/mux.MiddlewareFunc.Middleware"sv,
};

// Routers and middleware frameworks: their frames are never a user
// middleware, and what their code allocates (with the libraries it calls)
// is charged to a row named after the package, as net/http's own work is
// charged to (server). Their bundled middleware live in subpackages (chi's
// middleware, gorilla/handlers), which are not listed, or in
// kBundledMiddleware.
constexpr std::array kFrameworks = {
    "github.com/gin-gonic/gin"sv,
    "github.com/labstack/echo/v4"sv,
    "github.com/labstack/echo"sv,
    "github.com/go-chi/chi/v5"sv,
    "github.com/go-chi/chi"sv,
    "github.com/gorilla/mux"sv,
    "github.com/urfave/negroni/v3"sv,
    "github.com/urfave/negroni"sv,
    "github.com/justinas/alice"sv,
    "github.com/caddyserver/caddy/v2/modules/caddyhttp"sv,
};

// Middleware that ship inside a framework's own package: middleware, not
// framework code.
constexpr std::array kBundledMiddleware = {
    "github.com/urfave/negroni.(*Logger).ServeHTTP"sv,
    "github.com/urfave/negroni.(*Recovery).ServeHTTP"sv,
    "github.com/urfave/negroni.(*Static).ServeHTTP"sv,
    "github.com/urfave/negroni/v3.(*Logger).ServeHTTP"sv,
    "github.com/urfave/negroni/v3.(*Recovery).ServeHTTP"sv,
    "github.com/urfave/negroni/v3.(*Static).ServeHTTP"sv,
};

constexpr std::array kEchoHeads = {
    "github.com/labstack/echo/v4.(*Echo).ServeHTTP"sv,
    "github.com/labstack/echo.(*Echo).ServeHTTP"sv,
};

template <size_t N>
bool in(const std::array<std::string_view, N>& set, std::string_view s) {
  for (auto x : set)
    if (x == s) return true;
  return false;
}

// The framework whose package the function is in, or "" (a function of
// package P is "P.name" or "P.(*T).name": the package ends at the dot).
std::string_view framework_of(std::string_view fn) {
  if (in(kBundledMiddleware, fn)) return {};
  for (auto p : kFrameworks)
    if (fn.size() > p.size() && fn.starts_with(p) && fn[p.size()] == '.') return p;
  return {};
}

// Frames that are never a middleware: net/http itself and the frameworks.
bool is_framework(std::string_view fn) { return fn.starts_with("net/http.") || !framework_of(fn).empty(); }

bool is_closure(std::string_view fn) { return symbolize::strip_closure_suffixes(fn) != fn; }

bool is_serve_http_method(std::string_view fn) {
  if (!fn.ends_with(".ServeHTTP")) return false;
  std::string_view recv = fn.substr(0, fn.size() - 10);  // "pkg.T" or "pkg.(*T)"
  size_t slash = recv.rfind('/');
  std::string_view last = slash == std::string_view::npos ? recv : recv.substr(slash + 1);
  return last.find('.') != std::string_view::npos;  // a method, not a package function
}

// The function's package path: "net/http.(*conn).serve" -> "net/http".
std::string_view package_of(std::string_view fn) {
  size_t slash = fn.rfind('/');
  size_t dot = fn.find('.', slash == std::string_view::npos ? 0 : slash);
  return dot == std::string_view::npos ? fn : fn.substr(0, dot);
}

// Go's own rule (cmd/go): a standard-library import path has no dot in its
// first element. "main" is the program, not the library.
bool is_stdlib(std::string_view fn) {
  std::string_view pkg = package_of(fn);
  if (pkg == "main") return false;
  std::string_view first = pkg.substr(0, pkg.find('/'));
  return first.find('.') == std::string_view::npos;
}

bool in_echo_head(std::string_view fn) {
  for (auto h : kEchoHeads)
    if (fn.starts_with(h)) return true;  // (*Echo).ServeHTTP and its closures
  return false;
}

}  // namespace

std::string middleware_name(std::string_view fn) {
  if (fn.ends_with("-fm")) fn.remove_suffix(3);  // method value
  if (is_serve_http_method(fn)) {
    std::string recv(fn.substr(0, fn.size() - 10));
    // "main.(*auth)" -> "main.auth"
    size_t open = recv.find("(*");
    if (open != std::string::npos && recv.ends_with(")")) recv = recv.substr(0, open) + recv.substr(open + 2, recv.size() - open - 3);
    return recv;
  }
  return std::string(symbolize::strip_closure_suffixes(fn));
}

Result<MiddlewareRules> MiddlewareRules::create(const std::vector<std::string>& user_patterns) {
  MiddlewareRules r;
  for (const auto& p : user_patterns) {
    try {
      r.regexes_.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return Error{"--middleware '" + p + "' is not a valid regular expression (" + e.what() +
                   "); it is matched against function names like main.Logging.func1"};
    }
    r.patterns_.push_back(p);
  }
  return r;
}

bool MiddlewareRules::user_match(size_t i, std::string_view function) const {
  return std::regex_search(function.begin(), function.end(), regexes_[i]);
}

bool MiddlewareRules::any_user_match(std::string_view function) const {
  if (regexes_.empty()) return false;
  auto [it, inserted] = user_matched_.try_emplace(std::string(function), false);
  if (inserted)
    for (size_t u = 0; u < regexes_.size() && !it->second; u++) it->second = user_match(u, function);
  return it->second;
}

bool MiddlewareRules::is_middleware(std::span<const std::string_view> functions, size_t i, bool in_echo_chain) const {
  const std::string_view fn = functions[i];
  if (any_user_match(fn)) return true;
  if (is_framework(fn)) return false;
  if (fn.starts_with("runtime.") || fn.starts_with("[")) return false;
  if (i + 1 < functions.size() && in(kDispatchers, functions[i + 1])) return true;
  if (is_serve_http_method(fn)) return true;
  return in_echo_chain;
}

std::optional<MiddlewareFrame> innermost_framework(std::span<const std::string_view> functions) {
  for (size_t k = 0; k < functions.size(); k++) {
    std::string_view framework = framework_of(functions[k]);
    if (!framework.empty()) return MiddlewareFrame{k, std::string(framework)};
  }
  return std::nullopt;
}

std::optional<std::string> owning_row(const std::vector<MiddlewareFrame>& chain,
                                      std::span<const std::string_view> functions) {
  auto framework = innermost_framework(functions);
  if (framework && (chain.empty() || framework->frame < chain.back().frame)) return framework->name;
  if (chain.empty()) return std::nullopt;
  return chain.back().name;
}

std::vector<MiddlewareFrame> MiddlewareRules::chain(std::span<const std::string_view> functions,
                                                    const ClosureOwners& owners) const {
  std::vector<MiddlewareFrame> out;
  bool echo_chain = false;  // below (*Echo).ServeHTTP, until the final handler
  for (size_t k = functions.size(); k-- > 0;) {
    const std::string_view fn = functions[k];
    if (in_echo_head(fn)) {
      echo_chain = true;
      continue;
    }
    // In an echo chain, user closures are layers and the first other user
    // function is the final handler; echo's own frames are transparent; a
    // standard-library frame (context.WithValue called by a layer) ends it.
    if (echo_chain && !is_framework(fn) && is_stdlib(fn)) echo_chain = false;
    bool echo_layer = echo_chain && !is_framework(fn);
    if (is_middleware(functions, k, echo_layer)) {
      auto owner = owners.find(fn);
      std::string name = middleware_name(owner == owners.end() ? fn : owner->second);
      // An inlined frame of the same middleware as its caller is one layer.
      if (out.empty() || out.back().name != name) out.push_back({k, std::move(name)});
      else out.back().frame = k;
    }
    if (echo_layer && !is_closure(fn)) echo_chain = false;
  }
  return out;
}

}  // namespace mws::attribute
