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
  SerialRoute* r = serial_slot(e.serial);
  if (!r) {
    over_cap_++;  // older than the window
    return;
  }
  // The innermost router wins: the last definitive route, or failing that
  // the last provisional one.
  if (definitive || r->state != kDefinitive) *r = SerialRoute{route, definitive ? kDefinitive : kProvisional};
}

RouteTracker::SerialRoute* RouteTracker::serial_slot(uint64_t serial) {
  if (serial < serial_base_) return nullptr;
  if (serial - serial_base_ >= kMaxSerials) {
    // Forget the oldest requests, at least half the window, counting them.
    const uint64_t keep_from = std::max(serial_base_ + kMaxSerials / 2, serial + 1 - kMaxSerials / 2);
    while (serial_base_ < keep_from && !serials_.empty()) {
      const SerialRoute& old = serials_.front();
      if (old.state != kNoEvent) {
        if (forgotten_requests_.size() <= old.route) forgotten_requests_.resize(old.route + 1);
        forgotten_requests_[old.route]++;
        forgotten_named_++;
      }
      serials_.pop_front();
      serial_base_++;
    }
    serial_base_ = std::max(serial_base_, keep_from);
  }
  if (serial - serial_base_ >= serials_.size()) serials_.resize(serial - serial_base_ + 1);
  return &serials_[serial - serial_base_];
}

RouteIndex RouteTracker::route_of(uint64_t tag, bool in_request) {
  if (tag == 0 || (!(tag & MWS_ROUTE_TAG_INHERITED) && !in_request)) return pseudo(kRouteNoRequest);
  if (tag & MWS_ROUTE_TAG_PENDING) {
    const uint64_t serial = tag & MWS_ROUTE_TAG_SERIAL_MASK;
    if (serial < serial_base_) return pseudo(kRouteLost);
    const SerialRoute* r = find_serial(serial);
    return r && r->state != kNoEvent ? r->route : pseudo(kRouteNone);
  }
  const uint64_t id = tag & MWS_ROUTE_TAG_ID_MASK;
  if (id == MWS_ROUTE_ID_NONE) return pseudo(kRouteNone);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? pseudo(kRouteLost) : it->second;
}

void RouteTracker::count_requests(uint64_t requests_counted) {
  for (ProfileRoute& r : routes_) r.requests = 0;
  uint64_t named = forgotten_named_;
  for (size_t i = 0; i < forgotten_requests_.size() && i < routes_.size(); i++) routes_[i].requests += forgotten_requests_[i];
  for (const SerialRoute& sr : serials_)
    if (sr.state != kNoEvent) {
      routes_[sr.route].requests++;
      named++;
    }
  for (size_t i = 0; i < unserialed_requests_.size() && i < routes_.size(); i++) routes_[i].requests += unserialed_requests_[i];
  if (requests_counted > named) routes_[pseudo(kRouteNone)].requests += requests_counted - named;
}

}  // namespace mws::model
