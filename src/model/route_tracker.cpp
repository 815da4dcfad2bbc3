#include "model/route_tracker.h"

#include <algorithm>
#include <string_view>

namespace mws::model {
namespace {

std::string_view router_name(uint32_t router) {
  switch (router) {
    case MWS_ROUTER_SERVEMUX:
    case MWS_ROUTER_SERVEMUX_PATH: return "net/http.ServeMux";
    case MWS_ROUTER_GIN: return "gin";
    case MWS_ROUTER_CHI: return "chi";
    case MWS_ROUTER_ECHO: return "echo";
    case MWS_ROUTER_GORILLA: return "gorilla/mux";
    default: return "router?";
  }
}

std::string_view method_name(uint32_t method) {
  static constexpr std::string_view kNames[] = {"",       "GET",     "HEAD",    "POST",  "PUT", "PATCH",
                                                "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER"};
  return method < std::size(kNames) ? kNames[method] : "OTHER";
}

// Printable ASCII kept, anything else as \xNN: route bytes come from the
// target and end up on terminals, in JSON, pprof and Prometheus labels.
void append_escaped(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

// chi's RoutePattern(): the mounted routers' patterns joined, each "/*/"
// (a mount point's wildcard followed by the sub-router's pattern) made "/".
std::string chi_join(std::string joined) {
  for (size_t at; (at = joined.find("/*/")) != std::string::npos;) joined.replace(at, 3, "/");
  return joined;
}

// Whether a ServeMux pattern names its method ("GET /items/{id}"): an
// upper-case token and a space before the path or host.
bool names_method(std::string_view pattern) {
  size_t i = 0;
  while (i < pattern.size() && pattern[i] >= 'A' && pattern[i] <= 'Z') i++;
  return i > 0 && i < pattern.size() && pattern[i] == ' ';
}

}  // namespace

std::string RouteTracker::route_name(const mws_route_event& e) {
  std::string pattern;
  const uint32_t n = std::min<uint32_t>(e.segments, MWS_ROUTE_MAX_SEGMENTS);
  for (uint32_t i = 0; i < n; i++)
    pattern.append(e.segment[i], std::min<uint32_t>(e.segment_len[i], MWS_ROUTE_SEGMENT_BYTES));
  if (e.router == MWS_ROUTER_CHI) pattern = chi_join(std::move(pattern));
  if (e.route_flags & MWS_ROUTE_FLAG_TRUNCATED) pattern += "...";
  std::string name;
  const std::string_view method = method_name(e.method);
  if (!method.empty() && !names_method(pattern)) {
    name += method;
    name += ' ';
  }
  append_escaped(name, pattern);
  return name;
}

RouteIndex RouteTracker::pseudo(std::string_view name) {
  return intern(std::string(name), "");
}

RouteIndex RouteTracker::intern(std::string name, const std::string& router) {
  std::string key = router + '\n' + name;
  if (auto it = by_name_.find(key); it != by_name_.end()) return it->second;
  if (!router.empty() && routes_.size() >= kMaxRoutes) {
    over_cap_++;
    return pseudo(kRouteOther);
  }
  const auto at = static_cast<RouteIndex>(routes_.size());
  routes_.push_back(ProfileRoute{std::move(name), router, 0});
  by_name_.emplace(std::move(key), at);
  return at;
}

void RouteTracker::on_route(const mws_route_event& e) {
  events_++;
  if (e.route_flags & MWS_ROUTE_FLAG_TRUNCATED) truncated_++;
  if (e.route_flags & MWS_ROUTE_FLAG_READ_ERROR) read_errors_++;
  RouteIndex route;
  if ((e.route_flags & MWS_ROUTE_FLAG_NO_MATCH) || e.segments == 0) {
    route = pseudo(kRouteNone);
  } else if (auto it = by_id_.find(e.route_id); it != by_id_.end()) {
    route = it->second;
  } else {
    route = intern(route_name(e), std::string(router_name(e.router)));
    if (by_id_.size() < kMaxIds) by_id_.emplace(e.route_id, route);
    else over_cap_++;
  }
  const bool definitive = !(e.route_flags & MWS_ROUTE_FLAG_PROVISIONAL);
  if (e.serial == 0) {
    // No request state (its start was not seen): counted where it went.
    if (unserialed_requests_.size() <= route) unserialed_requests_.resize(route + 1);
    if (definitive) unserialed_requests_[route]++;
    return;
  }
  auto it = by_serial_.find(e.serial);
  if (it == by_serial_.end()) {
    if (by_serial_.size() >= kMaxSerials) {
      over_cap_++;
      return;
    }
    by_serial_.emplace(e.serial, SerialRoute{route, definitive});
    return;
  }
  // The innermost router wins: the last definitive route, or failing that
  // the last provisional one.
  if (definitive || !it->second.definitive) it->second = SerialRoute{route, definitive};
}

RouteIndex RouteTracker::route_of(uint64_t tag, bool in_request) {
  if (tag == 0 || (!(tag & MWS_ROUTE_TAG_INHERITED) && !in_request)) return pseudo(kRouteNoRequest);
  if (tag & MWS_ROUTE_TAG_PENDING) {
    auto it = by_serial_.find(tag & MWS_ROUTE_TAG_SERIAL_MASK);
    return it == by_serial_.end() ? pseudo(kRouteNone) : it->second.route;
  }
  const uint64_t id = tag & MWS_ROUTE_TAG_ID_MASK;
  if (id == MWS_ROUTE_ID_NONE) return pseudo(kRouteNone);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? pseudo(kRouteLost) : it->second;
}

void RouteTracker::count_requests(uint64_t requests_counted) {
  for (ProfileRoute& r : routes_) r.requests = 0;
  uint64_t named = 0;
  for (const auto& [serial, sr] : by_serial_) {
    routes_[sr.route].requests++;
    named++;
  }
  for (size_t i = 0; i < unserialed_requests_.size() && i < routes_.size(); i++) routes_[i].requests += unserialed_requests_[i];
  if (requests_counted > named) routes_[pseudo(kRouteNone)].requests += requests_counted - named;
}

}  // namespace mws::model
