// RouteTracker: the routes routers matched while we recorded (bpf/events.h,
// "Routes"), and what each route tag that allocations and goroutines carry
// stands for. A tag is a route's id (known when the allocation was made),
// or a request's serial (made before its router ran: the route that
// request took, learned from its route events), or nothing.
//
// The target writes every byte of a route event: names are built from
// bounded copies, escaped, and distinct routes are capped (kMaxRoutes),
// so a hostile or buggy target cannot grow our memory through them.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpf/events.h"
#include "model/profile.h"

namespace mws::model {

using RouteIndex = uint32_t;  // index into RouteTracker::routes(): Profile::routes

class RouteTracker {
 public:
  static constexpr size_t kMaxRoutes = 1000;        // distinct route names; more go to "(other routes)"
  static constexpr size_t kMaxIds = 1u << 16;       // distinct route ids (a route may have several)
  // Requests whose route is remembered, the latest ones (8 bytes each): a
  // tag naming an older request is "(route lost)"; its request still counts.
  static constexpr size_t kMaxSerials = 1u << 20;

  void on_route(const mws_route_event& e);

  // The route a tag stands for. `in_request`: the allocation's stack is
  // inside net/http.serverHandler.ServeHTTP (a tag the goroutine did not
  // inherit is its request's only there: between two requests of a
  // keep-alive connection, net/http's own work belongs to neither).
  RouteIndex route_of(uint64_t tag, bool in_request);
  // Whether request `serial` has its route (a definitive route event).
  bool routed(uint64_t serial) const {
    const SerialRoute* r = find_serial(serial);
    return r && r->state == kDefinitive;
  }
  // Requests per route, given how many the request probe counted in all:
  // each request's last route (or its provisional one); the requests no
  // router named are "(no route)". Fills routes()[*].requests.
  void count_requests(uint64_t requests_counted);

  const std::vector<ProfileRoute>& routes() const { return routes_; }
  std::vector<ProfileRoute> take_routes() { return std::move(routes_); }
  uint64_t events() const { return events_; }
  uint64_t truncated() const { return truncated_; }
  uint64_t read_errors() const { return read_errors_; }
  uint64_t over_cap() const { return over_cap_; }

  // The name a route event gives its route: the router's pattern (chi's
  // segments joined as chi's RoutePattern joins them), after the request's
  // method unless the pattern names one; non-printable bytes escaped.
  static std::string route_name(const mws_route_event& e);

 private:
  RouteIndex intern(std::string name, const std::string& router);
  RouteIndex pseudo(std::string_view name);
  enum : uint8_t { kNoEvent = 0, kProvisional, kDefinitive };
  struct SerialRoute {
    RouteIndex route = 0;
    uint8_t state = kNoEvent;
  };
  const SerialRoute* find_serial(uint64_t serial) const {
    return serial >= serial_base_ && serial - serial_base_ < serials_.size() ? &serials_[serial - serial_base_] : nullptr;
  }
  // Makes room for `serial`, forgetting the oldest half of the window (their
  // requests stay counted, in forgotten_requests_) when it is full.
  SerialRoute* serial_slot(uint64_t serial);
  std::vector<ProfileRoute> routes_;
  std::unordered_map<std::string, RouteIndex> by_name_;      // router + '\n' + name
  std::unordered_map<uint64_t, RouteIndex> by_id_;
  // Each request's route, by serial from serial_base_ (serials grow by one
  // per request; 0 is none).
  std::deque<SerialRoute> serials_;
  uint64_t serial_base_ = 1;
  std::vector<uint64_t> forgotten_requests_;  // per route, requests that left the window
  uint64_t forgotten_named_ = 0;
  uint64_t requests_without_serial_ = 0;  // route events of goroutines with no request state
  std::vector<uint64_t> unserialed_requests_;  // per route, those events
  uint64_t events_ = 0, truncated_ = 0, read_errors_ = 0, over_cap_ = 0;
};

}  // namespace mws::model
