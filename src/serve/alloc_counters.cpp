#include "serve/alloc_counters.h"

#include <algorithm>

namespace mws::serve {

void AllocCounters::update(const Profile& profile) {
  std::vector<const MiddlewareRow*> rows;
  for (const MiddlewareRow& row : profile.middleware) rows.push_back(&row);
  std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->bytes > b->bytes; });
  for (const MiddlewareRow* row : rows) {
    if (row->objects == 0 && row->bytes == 0) continue;
    if (series_.size() < top_ && !series_.count(row->name)) series_[row->name] = {row->name, 0, 0};
    AllocSeries& last = last_total_[row->name];
    // A total that went back (an estimate redrawn) adds nothing: a counter never falls.
    const uint64_t objects = row->objects > last.objects ? row->objects - last.objects : 0;
    const uint64_t bytes = row->bytes > last.bytes ? row->bytes - last.bytes : 0;
    last.objects = std::max(last.objects, row->objects);
    last.bytes = std::max(last.bytes, row->bytes);
    auto named = series_.find(row->name);
    AllocSeries& into = named != series_.end() ? named->second : other_;
    into.objects += objects;
    into.bytes += bytes;
  }
}

std::vector<AllocSeries> AllocCounters::series() const {
  std::vector<AllocSeries> out;
  for (const auto& [name, s] : series_) out.push_back(s);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  if (other_.objects > 0 || other_.bytes > 0 || series_.size() >= top_) out.push_back(other_);
  return out;
}

}  // namespace mws::serve
