#include "serve/alloc_counters.h"

#include <algorithm>

#include "report/routes.h"

namespace mws::serve {

void BoundedCounters::update(const std::vector<Series>& totals) {
  std::vector<const Series*> rows;
  for (const Series& s : totals) rows.push_back(&s);
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->counts.bytes > b->counts.bytes; });
  for (const Series* row : rows) {
    const Counts& now = row->counts;
    if (now.objects == 0 && now.bytes == 0 && now.requests == 0) continue;
    if (series_.size() < top_ && !series_.count(row->name)) series_[row->name] = {};
    Counts& last = last_total_[row->name];
    // A total that went back (an estimate redrawn) adds nothing: a counter never falls.
    auto grown = [](uint64_t now, uint64_t& last) {
      const uint64_t d = now > last ? now - last : 0;
      last = std::max(last, now);
      return d;
    };
    auto named = series_.find(row->name);
    Counts& into = named != series_.end() ? named->second : other_;
    into.objects += grown(now.objects, last.objects);
    into.bytes += grown(now.bytes, last.bytes);
    into.requests += grown(now.requests, last.requests);
  }
}

std::vector<BoundedCounters::Series> BoundedCounters::series() const {
  std::vector<Series> out;
  for (const auto& [name, c] : series_) out.push_back({name, c});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.counts.bytes > b.counts.bytes; });
  if (other_.objects > 0 || other_.bytes > 0 || other_.requests > 0 || series_.size() >= top_)
    out.push_back({kOtherMiddleware, other_});
  return out;
}

void AllocCounters::update(const Profile& profile) {
  std::vector<BoundedCounters::Series> totals;
  for (const MiddlewareRow& row : profile.middleware) totals.push_back({row.name, {row.objects, row.bytes, 0}});
  middleware_.update(totals);
  totals.clear();
  for (const RouteTotals& r : route_totals(profile)) totals.push_back({r.name, {r.objects, r.bytes, r.requests}});
  routes_.update(totals);
}

std::vector<AllocSeries> AllocCounters::series() const {
  std::vector<AllocSeries> out;
  for (const auto& s : middleware_.series()) out.push_back({s.name, s.counts.objects, s.counts.bytes});
  return out;
}

std::vector<RouteSeries> AllocCounters::route_series() const {
  std::vector<RouteSeries> out;
  for (const auto& s : routes_.series()) out.push_back({s.name, s.counts.requests, s.counts.objects, s.counts.bytes});
  return out;
}

}  // namespace mws::serve
