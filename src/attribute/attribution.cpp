#include "attribute/attribution.h"

#include "attribute/c_heap_attribution.h"
#include "attribute/leak_verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace mws::attribute {
namespace {

struct Accum {
  MiddlewareRow row;
  uint64_t tiny_block_objects = 0;
  std::map<std::string, NamedCount> sites, types;
};

void add(std::map<std::string, NamedCount>& m, const std::string& name, const ProfileStack& s) {
  NamedCount& c = m[name];
  c.name = name;
  c.objects += s.objects;
  c.bytes += s.bytes;
  c.inuse_bytes += s.inuse_bytes;
}

std::vector<NamedCount> top(const std::map<std::string, NamedCount>& m, size_t n) {
  std::vector<NamedCount> v;
  for (const auto& [k, c] : m) v.push_back(c);
  std::sort(v.begin(), v.end(), [](const NamedCount& a, const NamedCount& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
  });
  if (v.size() > n) v.resize(n);
  return v;
}

// "main.Logging.func1 main.go:116": the frame the allocation happened in,
// within the owning middleware's part of the stack (the innermost frame
// that is not the Go runtime).
std::string site_of(const Profile& p, const std::vector<FrameId>& frame_ids) {
  if (frame_ids.empty()) return "[no stack]";
  const Frame& f = p.frame(frame_ids[site_frame_index(p, frame_ids)]);
  std::string file = f.file.substr(f.file.find_last_of('/') + 1);
  return f.line ? fmt::format("{} {}:{}", f.function, file, f.line) : f.function;
}

// The functions of a stack's frames, leaf first, in `out` (reused).
void functions_of(const Profile& p, const std::vector<FrameId>& frame_ids, std::vector<std::string_view>& out) {
  out.clear();
  for (FrameId id : frame_ids) out.push_back(p.frame(id).function);
}

}  // namespace

void attribute_profile(Profile& p, const MiddlewareRules& rules, size_t top_n) {
  std::map<std::string, Accum> rows;
  std::map<std::vector<std::string>, MiddlewareChain> chains;
  std::vector<RuleMatch> user(rules.user_patterns().size());
  std::vector<std::set<std::string>> user_functions(user.size());
  for (size_t i = 0; i < user.size(); i++) user[i].pattern = rules.user_patterns()[i];
  // Which user patterns match each frame, decided once per distinct frame.
  std::vector<std::vector<size_t>> user_matches(p.frames.size());
  for (size_t u = 0; u < user.size(); u++)
    for (FrameId id = 0; id < p.frames.size(); id++)
      if (rules.user_match(u, p.frame(id).function)) user_matches[id].push_back(u);

  std::vector<std::string_view> functions;
  // Functions seen as middleware frames, with the middleware they make:
  // a goroutine alive before we attached is known by its go statement
  // alone, one frame without the dispatcher that would mark it.
  std::map<std::string, std::string, std::less<>> middleware_functions;
  uint64_t tiny_block_objects = 0;  // over every stack
  for (ProfileStack& s : p.stacks) {
    functions_of(p, s.frame_ids, functions);
    auto chain = rules.chain(functions, p.closure_owners);
    s.middleware = owning_row(chain, functions).value_or(kServer);
    Accum& self = rows[s.middleware];
    self.row.name = s.middleware;
    self.row.objects += s.objects;
    self.row.bytes += s.bytes;
    self.row.samples += s.samples;
    self.row.inuse_objects += s.inuse_objects;
    self.row.inuse_bytes += s.inuse_bytes;
    self.row.inuse_change_bytes += s.inuse_change_bytes;
    self.tiny_block_objects += s.tiny_block_objects;
    tiny_block_objects += s.tiny_block_objects;
    add(self.sites, site_of(p, s.frame_ids), s);
    add(self.types, s.type.empty() ? "(unknown type)" : s.type, s);

    std::set<std::string> seen;  // a name twice in one chain counts once
    std::vector<std::string> names;
    for (const auto& m : chain) {
      middleware_functions.try_emplace(std::string(functions[m.frame]), m.name);
      names.push_back(m.name);
      if (!seen.insert(m.name).second) continue;
      Accum& a = rows[m.name];
      a.row.name = m.name;
      a.row.inclusive_objects += s.objects;
      a.row.inclusive_bytes += s.bytes;
    }
    if (!names.empty()) {
      MiddlewareChain& c = chains[names];
      c.names = names;
      c.objects += s.objects;
      c.bytes += s.bytes;
    }
    for (FrameId id : s.frame_ids)
      for (size_t u : user_matches[id]) {
        user[u].frames_matched++;
        user_functions[u].insert(p.frame(id).function);
      }
  }

  for (TaskGroup& g : p.tasks.groups) {
    functions_of(p, g.creation_frame_ids, functions);
    auto chain = rules.chain(functions, p.closure_owners);
    g.middleware = owning_row(chain, functions).value_or(kServer);
    for (const auto& m : chain) middleware_functions.try_emplace(std::string(functions[m.frame]), m.name);
    Accum& a = rows[g.middleware];
    a.row.name = g.middleware;
    a.row.leaked_tasks += g.leaked;
    a.row.live_tasks += g.live;
  }

  // A spawn chain's middleware: the innermost one of the nearest creation
  // stack that has one (the goroutine's own go statement first). A stack of
  // one frame (a goroutine alive at attach: its go statement) has one when
  // that function was seen as middleware in this recording.
  for (SpawnChain& c : p.spawn_chains) {
    c.middleware.clear();
    for (const auto& creation : c.creation_stacks) {
      functions_of(p, creation, functions);
      auto chain = rules.chain(functions, p.closure_owners);
      if (!chain.empty()) {
        c.middleware = chain.back().name;
        break;
      }
      if (creation.size() == 1)
        if (auto m = middleware_functions.find(functions[0]); m != middleware_functions.end()) {
          c.middleware = m->second;
          break;
        }
    }
  }
  auto chain_middleware = [&](uint32_t chain) -> const std::string* {
    if (chain >= p.spawn_chains.size() || p.spawn_chains[chain].middleware.empty()) return nullptr;
    return &p.spawn_chains[chain].middleware;
  };
  // Via goroutines: each share to the middleware that started its chain.
  for (const ProfileStack& s : p.stacks)
    for (const SpawnShare& share : s.spawned_by) {
      const std::string* by = chain_middleware(share.chain);
      if (!by) continue;
      Accum& via = rows[*by];
      via.row.name = *by;
      via.row.via_objects += share.objects;
      via.row.via_bytes += share.bytes;
      via.row.via_samples += share.samples;
      Accum& self = rows[s.middleware];
      self.row.self_via_middleware_objects += share.objects;
      self.row.self_via_middleware_bytes += share.bytes;
    }
  for (const TaskGroup& g : p.tasks.groups)
    for (const ChainCount& c : g.leaked_by_creator_chain)
      if (const std::string* by = chain_middleware(c.chain)) {
        Accum& via = rows[*by];
        via.row.name = *by;
        via.row.via_leaked_tasks += c.count;
      }

  // Goroutines read at the end: by where they are parked and were created.
  // A go statement alone (one frame, no dispatcher above it) is known as
  // middleware code when that function was seen as middleware elsewhere
  // in this recording, as spawn chains are; that also makes its origin a
  // request.
  for (GoroutineGroup& g : p.goroutines.groups) {
    functions_of(p, g.creation_frame_ids, functions);
    auto creation_chain = rules.chain(functions, p.closure_owners);
    const std::string* learned = nullptr;
    if (!functions.empty())
      if (auto m = middleware_functions.find(functions[0]); m != middleware_functions.end()) learned = &m->second;
    std::vector<FrameId> ids = g.frame_ids;
    ids.insert(ids.end(), g.creation_frame_ids.begin(), g.creation_frame_ids.end());
    functions_of(p, ids, functions);
    auto chain = rules.chain(functions, p.closure_owners);
    auto row = owning_row(chain, functions);
    g.middleware = row ? *row : learned ? *learned : kServer;
    decide_group(g, !creation_chain.empty() || learned);
    // Without spawn tracking, the reading is the only count of leaks a
    // middleware's code started.
    if (!p.tasks.tracked && g.leaked) {
      Accum& a = rows[g.middleware];
      a.row.name = g.middleware;
      a.row.leaked_tasks += g.leaked;
    }
  }
  sum_verdicts(p.goroutines);

  // Threads held by a goroutine: by where it waits and was created, as the
  // goroutines above. A thread without one (idle, not Go) has no middleware.
  for (ThreadGroup& g : p.threads.groups) {
    if (g.frame_ids.empty() && g.creation_frame_ids.empty()) continue;
    if (g.holder == "not a Go thread" || g.holder == "idle") continue;
    std::vector<FrameId> ids = g.frame_ids;
    ids.insert(ids.end(), g.creation_frame_ids.begin(), g.creation_frame_ids.end());
    functions_of(p, ids, functions);
    auto chain = rules.chain(functions, p.closure_owners);
    g.middleware = chain.empty() ? kServer : chain.back().name;
  }

  p.middleware.clear();
  for (auto& [name, a] : rows) {
    a.row.inclusive_objects = std::max(a.row.inclusive_objects, a.row.objects);
    a.row.inclusive_bytes = std::max(a.row.inclusive_bytes, a.row.bytes);
    if (p.requests.counted && p.requests.requests > 0) {
      a.row.objects_per_request = double(a.row.objects) / double(p.requests.requests);
      a.row.bytes_per_request = double(a.row.bytes) / double(p.requests.requests);
      a.row.via_objects_per_request = double(a.row.via_objects) / double(p.requests.requests);
      a.row.via_bytes_per_request = double(a.row.via_bytes) / double(p.requests.requests);
    }
    // The change of the heap it holds between two readings of the
    // runtime's profile, per minute of recording: how fast this middleware
    // retains memory. Without a GC between the readings nothing can show.
    if (p.meta.heap_read && p.meta.gc_cycles > 0 && p.meta.duration_s > 0)
      a.row.inuse_bytes_per_min = double(a.row.inuse_change_bytes) / (p.meta.duration_s / 60.0);
    // The tiny allocations the sampler missed, shared by where tiny blocks
    // were sampled: a block holds the allocations packed into it after its
    // first, all from code running on the same P at about that time.
    if (tiny_block_objects > 0)
      a.row.tiny_allocs_missed = static_cast<uint64_t>(
          double(p.meta.tiny_allocs) * double(a.tiny_block_objects) / double(tiny_block_objects) + 0.5);
    a.row.top_sites = top(a.sites, top_n);
    a.row.top_types = top(a.types, top_n);
    p.middleware.push_back(std::move(a.row));
  }
  std::sort(p.middleware.begin(), p.middleware.end(), [](const MiddlewareRow& a, const MiddlewareRow& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.leaked_tasks != b.leaked_tasks) return a.leaked_tasks > b.leaked_tasks;
    return a.name < b.name;
  });

  p.chains.clear();
  for (auto& [k, c] : chains) p.chains.push_back(std::move(c));
  std::sort(p.chains.begin(), p.chains.end(), [](const MiddlewareChain& a, const MiddlewareChain& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.names < b.names;
  });
  if (p.chains.size() > 10) p.chains.resize(10);

  for (size_t u = 0; u < user.size(); u++) {
    for (const auto& f : user_functions[u]) {
      if (user[u].functions.size() >= 10) break;
      user[u].functions.push_back(f);
    }
  }
  p.user_rules = std::move(user);
  attribute_c_heap(p, rules);
}

}  // namespace mws::attribute
