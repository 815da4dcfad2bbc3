#include "report/pprof_delta.h"

#include <map>
#include <vector>

#include "proto/pprof_profile.pb.h"
#include "util/gzip.h"

namespace mws {
namespace {

Result<pprof::Profile> parse(std::string_view gz, const char* which) {
  pprof::Profile p;
  const std::string bytes = gunzip(gz);
  if (bytes.empty() || !p.ParseFromString(bytes)) return Error{std::string("the ") + which + " profile is not pprof"};
  return p;
}

std::string str(const pprof::Profile& p, int64_t i) {
  return i >= 0 && i < p.string_table_size() ? p.string_table(int(i)) : std::string();
}

// What identifies a sample across two profiles (their ids differ): each
// frame's function, file and line, leaf first, then its labels.
std::string sample_key(const pprof::Profile& p, const pprof::Sample& s,
                       const std::map<uint64_t, const pprof::Location*>& locations,
                       const std::map<uint64_t, const pprof::Function*>& functions) {
  std::string key;
  for (uint64_t id : s.location_id()) {
    auto loc = locations.find(id);
    if (loc == locations.end()) continue;
    for (const pprof::Line& line : loc->second->line()) {
      auto fn = functions.find(line.function_id());
      if (fn != functions.end()) key += str(p, fn->second->name()) + '\x1f' + str(p, fn->second->filename());
      key += '\x1f' + std::to_string(line.line()) + '\x1e';
    }
    key += '\x1d';
  }
  key += '\x1c';
  for (const pprof::Label& l : s.label())
    key += str(p, l.key()) + '=' + str(p, l.str()) + '#' + std::to_string(l.num()) + '\x1e';
  return key;
}

struct Index {
  std::map<uint64_t, const pprof::Location*> locations;
  std::map<uint64_t, const pprof::Function*> functions;
  explicit Index(const pprof::Profile& p) {
    for (const auto& l : p.location()) locations[l.id()] = &l;
    for (const auto& f : p.function()) functions[f.id()] = &f;
  }
};

}  // namespace

Result<std::string> pprof_delta(std::string_view before_gz, std::string_view after_gz) {
  auto before = parse(before_gz, "earlier");
  if (!before) return before.error();
  auto after = parse(after_gz, "later");
  if (!after) return after.error();
  if (before->sample_type_size() != after->sample_type_size()) return Error{"the two profiles differ in sample types"};
  const Index bi(*before), ai(*after);
  std::map<std::string, std::vector<int64_t>> earlier;
  for (const auto& s : before->sample()) {
    auto& v = earlier[sample_key(*before, s, bi.locations, bi.functions)];
    v.resize(size_t(s.value_size()), 0);
    for (int i = 0; i < s.value_size(); i++) v[size_t(i)] += s.value(i);
  }
  pprof::Profile out = *after;
  out.clear_sample();
  for (const auto& s : after->sample()) {
    pprof::Sample d = s;
    bool changed = false;
    auto e = earlier.find(sample_key(*after, s, ai.locations, ai.functions));
    for (int i = 0; i < d.value_size(); i++) {
      const int64_t was = e != earlier.end() && size_t(i) < e->second.size() ? e->second[size_t(i)] : 0;
      d.set_value(i, s.value(i) - was);
      changed |= d.value(i) != 0;
    }
    if (e != earlier.end()) earlier.erase(e);
    if (changed) *out.add_sample() = std::move(d);
  }
  // What was there before and is gone (a goroutine group that ended) is
  // not carried over: its frames are not in the later profile's tables.
  // Both start at attach: the delta starts where the earlier one ended.
  out.set_time_nanos(before->time_nanos() + before->duration_nanos());
  out.set_duration_nanos(after->duration_nanos() - before->duration_nanos());
  std::string bytes;
  if (!out.SerializeToString(&bytes)) return Error{"cannot encode the delta profile"};
  return gzip(bytes);
}

}  // namespace mws
