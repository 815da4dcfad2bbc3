#include "interpret/build_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "interpret/c_heap_section.h"
#include "interpret/goroutine_groups.h"
#include "interpret/goroutine_origin.h"
#include "interpret/thread_groups.h"
#include "interpret/profile_stacks.h"
#include "symbolize/go_closure_names.h"
#include "symbolize/go_symbolizer.h"
#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/go_types.h"
#include "version.h"

namespace mws::interpret {
namespace {

// Every closure in the profile's frames that Go renamed after inlining,
// with the function that made it.
ClosureOwners find_closure_owners(const Profile& p, const target::GoPclntab& table) {
  std::set<std::string_view> functions;
  for (const Frame& f : p.frames) functions.insert(f.function);
  ClosureOwners owners;
  for (std::string_view fn : functions)
    if (auto owner = symbolize::inlined_closure_owner(table, fn); !owner.empty()) owners[std::string(fn)] = owner;
  return owners;
}

ProfileMeta meta_of(const collect::RawRecording& raw) {
  ProfileMeta meta;
  meta.tool_version = MWSCOPE_VERSION;
  meta.pid = raw.process.pid;
  meta.executable = raw.process.exe_display;
  meta.go_version = raw.go_version;
  meta.mode = raw.mode;
  meta.allocations_tracked = raw.allocations_tracked;
  meta.allocations_unavailable = raw.allocations_unavailable;
  meta.sample_rate = raw.sample_rate;
  meta.probes_attached = raw.probes_attached;
  meta.started_unix_ns = raw.started_unix_ns;
  meta.duration_s = raw.duration_s;
  meta.events = raw.events;
  meta.dropped_events = raw.dropped_events;
  meta.dropped_ring_full = raw.dropped_ring_full;
  meta.dropped_over_limit = raw.dropped_over_limit;
  meta.stack_errors = raw.stack_errors;
  meta.truncated_stacks = raw.truncated_stacks;
  meta.tiny_allocs_counted = raw.tiny_allocs_counted;
  if (raw.tiny_allocs_counted) meta.tiny_allocs = raw.tiny_allocs;
  if (raw.heap_at_start && raw.heap_at_end) {
    const auto& a = *raw.heap_at_start;
    const auto& b = *raw.heap_at_end;
    meta.heap_read = true;
    meta.heap_profile_rate = b.rate > 0 ? uint64_t(b.rate) : 0;
    meta.gc_cycles = target::gc_cycles_between(a, b);
    meta.heap_unreadable_buckets = a.unreadable + b.unreadable;
    meta.heap_read_s = b.read_s;
  } else {
    meta.heap_problem = raw.heap_problem.empty() ? "not read" : raw.heap_problem;
  }
  return meta;
}

// Goroutines alive when the probes went live, grouped by where they were
// created and their start function, most first.
std::vector<PreexistingTaskGroup> preexisting_groups(const std::vector<target::GoroutineSnapshot>& gs,
                                                     symbolize::ProcessSymbolizer& sym) {
  std::map<std::pair<std::string, std::string>, uint64_t> by_site;
  for (const auto& g : gs) {
    const auto& created = sym.symbolize_return_address(g.gopc);
    by_site[{created.empty() ? "[unknown]" : created.front().function, function_at_entry(sym, g.startpc)}]++;
  }
  std::vector<PreexistingTaskGroup> out;
  for (const auto& [k, n] : by_site) out.push_back({k.first, k.second, n});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.alive_at_attach > b.alive_at_attach; });
  return out;
}

// The goroutines created while recording that one of their creation stacks
// (their own, then their creators' through the spawn chain) shows serving
// a request.
std::unordered_set<uint64_t> created_in_request(const model::TaskTracker& tasks, const ChainIndex& chains,
                                                const std::vector<SpawnChain>& spawn_chains,
                                                symbolize::StackSymbolizer& sym) {
  std::vector<std::string_view> functions;
  auto ran_request = [&](const std::vector<FrameId>& frames) {
    functions.clear();
    for (FrameId id : frames) functions.push_back(sym.frame(id).function);
    return started_by_request(functions);
  };
  std::vector<int8_t> group_ran(tasks.groups().size(), -1);  // -1 not yet known
  std::vector<int8_t> chain_ran(spawn_chains.size(), -1);
  std::unordered_set<uint64_t> out;
  for (const auto& [goid, t] : tasks.live()) {
    int8_t& g = group_ran[t.group];
    if (g < 0) g = ran_request(sym.symbolize(tasks.stacks().pcs(tasks.groups()[t.group].creation_stack)));
    bool ran = g;
    if (!ran && t.parent_ctx)
      if (auto c = chains.find(t.parent_ctx); c != chains.end()) {
        int8_t& r = chain_ran[c->second];
        if (r < 0) {
          const auto& stacks = spawn_chains[c->second].creation_stacks;
          r = std::any_of(stacks.begin(), stacks.end(), ran_request);
        }
        ran = r;
      }
    if (ran) out.insert(goid);
  }
  return out;
}

}  // namespace

Profile build_profile(collect::RawRecording raw, const target::ElfFile& exe, const InterpretOptions& opt) {
  Profile profile;
  profile.meta = meta_of(raw);
  ProfileMeta& meta = profile.meta;

  auto go_sym = symbolize::GoSymbolizer::create(exe, raw.go_version);
  std::unique_ptr<symbolize::BinarySymbolizer> exe_sym;
  const target::GoPclntab* pclntab = nullptr;  // owned by exe_sym
  if (go_sym) {
    pclntab = &(*go_sym)->table();
    exe_sym = std::move(*go_sym);
  } else if (opt.on_notice && !raw.go_version.empty()) {
    opt.on_notice("symbols unavailable: " + go_sym.error().message);
  }
  symbolize::ProcessSymbolizer sym(raw.process, exe, std::move(exe_sym));
  symbolize::StackSymbolizer stack_sym(sym);
  target::GoTypeNamer types(exe, target::find_types_base(exe, pclntab, raw.go_version).value_or(0));

  // Building the stacks is the report's biggest cost (about the recording's
  // own memory again). Out of memory here (an address-space limit, a huge
  // recording), the report goes on without them and says so: the counts
  // and goroutines recorded are not lost with them.
  const size_t raw_stacks = raw.sampled() ? raw.samples.stacks().size() : raw.allocs.stack_count();
  // Spawn chains first: allocations and leaks name them by index.
  const ChainIndex chains =
      raw.tasks_tracked ? build_spawn_chains(raw.tasks, stack_sym, profile.spawn_chains) : ChainIndex{};
  SpawnSplit split;
  if (raw.tasks_tracked) split.chains = &chains;
  RouteSplit route_split;
  if (raw.routes_recorded) route_split.routes = &raw.routes;
  meta.spawn_ctx_lost = raw.spawn_ctx_lost;
  // Sampled mode: the frees of sampled objects come from the runtime's
  // heap profile readings (add_heap_inuse), matched to the stacks here.
  BucketFrees frees;
  const bool heap_read = raw.heap_at_start && raw.heap_at_end;
  try {
    profile.stacks = raw.sampled() ? build_sampled_stacks(raw.samples, stack_sym, raw.sample_rate, &split,
                                                          heap_read ? &frees : nullptr, &route_split)
                                   : build_alloc_stacks(
                                         raw.allocs, stack_sym,
                                         [&](uint64_t type_addr, uint64_t size) { return types.name(type_addr, size); },
                                         &split, &route_split);
    meta.spawn_unresolved_objects = split.unresolved_objects;
  } catch (const std::bad_alloc&) {
    std::vector<ProfileStack>().swap(profile.stacks);
    decltype(frees.by_frames)().swap(frees.by_frames);  // it indexed the stacks just dropped
    meta.cut = fmt::format("allocation stacks left out: out of memory while symbolizing {} distinct stacks; "
                           "events and goroutines are complete (record for less time, or give mwscope more memory)",
                           raw_stacks);
    if (opt.on_notice) opt.on_notice("warning: " + meta.cut);
  }
  if (raw.heap_at_start && raw.heap_at_end) {
    try {
      add_heap_inuse(*raw.heap_at_start, *raw.heap_at_end, stack_sym, profile.stacks,
                     raw.sampled() ? &frees : nullptr);
      meta.unattributed_free_samples = frees.unattributed_samples;
      meta.unattributed_free_bytes = frees.unattributed_bytes;
    } catch (const std::bad_alloc&) {
      meta.heap_read = false;
      meta.heap_problem = "out of memory while symbolizing the runtime's heap profile";
      for (ProfileStack& s : profile.stacks)
        s.inuse_samples = s.inuse_sample_bytes = s.inuse_objects = s.inuse_bytes = s.inuse_change_objects =
            s.inuse_change_bytes = s.freed_samples = s.freed_sample_bytes = 0;
    }
    raw.heap_at_start.reset();
    raw.heap_at_end.reset();
  }
  profile.requests.counted = raw.requests_counted;
  profile.requests.requests = raw.requests;
  profile.requests.note = raw.requests_unavailable;

  // Goroutines at the end, with each one's evidence, before the tracked
  // ones' summary: their leak verdict is the reading's.
  std::unordered_map<uint64_t, GoroutineEvidence> evidence;
  if (raw.goroutines_read) {
    GoroutineSnapshotInputs in;
    in.at_attach = &raw.preexisting;
    in.at_end = &raw.goroutines_at_end;
    in.read_ns = raw.goroutines_read_ns;
    in.duration_s = raw.duration_s;
    in.leak_age_s = opt.leak_age_s;
    in.go_version = raw.go_version;
    std::unordered_map<uint64_t, uint64_t> created;
    for (const auto& [goid, t] : raw.tasks.live()) created.emplace(goid, t.created_ns);
    const std::unordered_set<uint64_t> in_request =
        raw.tasks_tracked ? created_in_request(raw.tasks, chains, profile.spawn_chains, stack_sym)
                          : std::unordered_set<uint64_t>{};
    if (raw.tasks_tracked) {
      in.created_ns = &created;
      in.created_in_request = &in_request;
    }
    if (raw.reachability.ran) in.reach = &raw.wait_reach;
    if (raw.routes_recorded && raw.tasks_tracked)
      in.route_of = [&](uint64_t goid) -> std::optional<uint32_t> {
        auto t = raw.tasks.live().find(goid);
        if (t == raw.tasks.live().end() || t->second.route_tag == 0) return std::nullopt;
        return raw.routes.route_of(t->second.route_tag, true);
      };
    const auto decide_start = std::chrono::steady_clock::now();
    profile.goroutines = group_goroutines(in, stack_sym, &evidence);
    profile.goroutines.decide_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - decide_start).count();
    profile.goroutines.read_s = raw.goroutines_read_s;
    profile.goroutines.reachability = raw.reachability;
  } else {
    profile.goroutines.problem = raw.goroutines_problem.empty() ? "not read" : raw.goroutines_problem;
  }

  TaskSummary& ts = profile.tasks;
  ts.tracked = raw.tasks_tracked;
  ts.unavailable_reason = raw.tasks_tracked ? "" : raw.tasks_unavailable;
  ts.offsets_source = raw.offsets.source;
  ts.leak_age_s = opt.leak_age_s;
  if (raw.tasks_tracked) {
    // How each goroutine alive at the end waits: the end's reading has it.
    std::unordered_map<uint64_t, std::string> live_states;
    for (const auto& g : raw.goroutines_at_end)
      live_states.emplace(g.g_addr, target::describe_goroutine_state(g.state, raw.go_version));
    TaskSummaryInputs in;
    in.now_ns = raw.ended_monotonic_ns;
    in.duration_s = raw.duration_s;
    in.leak_age_s = opt.leak_age_s;
    in.live_states = &live_states;
    in.chains = &chains;
    if (raw.goroutines_read) in.evidence = &evidence;
    if (raw.routes_recorded) in.routes = &raw.routes;
    build_task_summary(raw.tasks, stack_sym, in, ts);
    ts.dropped = raw.tasks.dropped() + raw.task_read_errors;
    ts.preexisting_at_attach = raw.preexisting.size();
    ts.preexisting = preexisting_groups(raw.preexisting, sym);
    if (!raw.goroutines_problem.empty() && opt.on_notice)
      opt.on_notice("goroutines alive before attach are not known: " + raw.goroutines_problem);
  }
  // Routes last: the stacks and goroutines named theirs (and the
  // pseudo-routes they needed) above.
  RouteSummary& rs = profile.route_summary;
  rs.recorded = raw.routes_recorded;
  rs.unavailable = raw.routes_recorded ? "" : raw.routes_unavailable;
  rs.routers = raw.routers;
  rs.refused = raw.routers_refused;
  if (raw.routes_recorded) {
    raw.routes.count_requests(raw.requests);
    rs.route_events = raw.routes.events();
    rs.truncated = raw.routes.truncated();
    rs.read_errors = raw.routes.read_errors();
    rs.over_cap = raw.routes.over_cap();
    rs.no_room = raw.request_state_full;
    profile.routes = raw.routes.take_routes();
  }
  profile.c_heap = build_c_heap(raw, stack_sym);
  if (raw.c_heap_tracked) {
    meta.events += raw.c_heap.events();
    meta.dropped_events += profile.c_heap.dropped;
  }
  if (raw.threads.recorded) {
    std::unordered_map<uint64_t, std::vector<uint64_t>> creation_by_g;
    for (const auto& [goid, t] : raw.tasks.live())
      creation_by_g.emplace(t.g_addr, raw.tasks.stacks().pcs(raw.tasks.groups()[t.group].creation_stack));
    profile.threads = group_threads({&raw.threads, raw.goroutines_read ? &raw.goroutines_at_end : nullptr,
                                     raw.tasks_tracked ? &creation_by_g : nullptr, raw.go_version,
                                     &raw.process.mappings},
                                    stack_sym);
  }
  profile.frames = std::move(stack_sym).take_frames();
  if (pclntab) profile.closure_owners = find_closure_owners(profile, *pclntab);
  return profile;
}

}  // namespace mws::interpret
