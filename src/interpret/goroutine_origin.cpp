#include "interpret/goroutine_origin.h"

#include <algorithm>

namespace mws::interpret {

namespace {

bool any_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool is_request_goroutine(std::string_view start) {
  return any_of(start, {"net/http.(*conn).serve", "net/http.(*http2serverConn).runHandler",
                        "golang.org/x/net/http2.(*serverConn).runHandler"});
}

std::string request_served(std::string_view start, std::span<const std::string_view> stack) {
  if (is_request_goroutine(start)) return std::string(start);
  // Root first: past runtime.goexit and the go statement's wrapper.
  for (auto it = stack.rbegin(); it != stack.rend() && it - stack.rbegin() < 3; ++it) {
    if (*it == "runtime.goexit" || *it == start) continue;
    return is_request_goroutine(*it) ? std::string(*it) : "";
  }
  return "";
}

bool is_request_frame(std::string_view function) {
  return is_request_goroutine(function) || function == "net/http.serverHandler.ServeHTTP";
}

bool runs_request(std::span<const std::string_view> functions) {
  return std::any_of(functions.begin(), functions.end(), [](std::string_view f) { return is_request_frame(f); });
}

bool is_http_server_function(std::string_view function) {
  return function.starts_with("net/http.") || function.starts_with("golang.org/x/net/http2.");
}

bool started_by_request(std::span<const std::string_view> creation) {
  return !creation.empty() && !is_http_server_function(creation.front()) && runs_request(creation);
}

bool in_handler(std::string_view served, std::span<const std::string_view> functions) {
  if (served != "net/http.(*conn).serve") return is_request_goroutine(served);  // HTTP/2: the handler's own goroutine
  return std::find(functions.begin(), functions.end(), "net/http.serverHandler.ServeHTTP") != functions.end();
}

bool is_connection_goroutine(std::span<const std::string_view> functions) {
  return std::any_of(functions.begin(), functions.end(), [](std::string_view f) {
    return any_of(f, {"net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop",
                      "net/http.(*http2ClientConn).readLoop", "golang.org/x/net/http2.(*ClientConn).readLoop"});
  });
}

}  // namespace mws::interpret
