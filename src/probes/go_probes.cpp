#include "probes/go_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "go_probes.skel.h"
#include "probes/bpf_support.h"

namespace mws::probes {

Result<std::unique_ptr<GoProbes>> GoProbes::attach(const GoProbePlan& plan, const GoProbeOptions& opt) {
  capture_libbpf_log();
  std::unique_ptr<GoProbes> p(new GoProbes());
  p->skel_ = go_probes::open();
  if (!p->skel_) return Error{"cannot open the BPF object: " + errno_text(errno)};
  auto* progs = &p->skel_->progs;

  p->skel_->rodata->target_tgid = static_cast<uint32_t>(opt.pid);
  std::memcpy(const_cast<mws_go_offsets*>(&p->skel_->rodata->go_off), &plan.offsets, sizeof(plan.offsets));
  std::memcpy(const_cast<mws_mprof_args*>(&p->skel_->rodata->mprof_args), &plan.mprof_args, sizeof(plan.mprof_args));
  std::memcpy(const_cast<mws_allocator_ranges*>(&p->skel_->rodata->allocator_ranges), &plan.allocator_ranges,
              sizeof(plan.allocator_ranges));
  mws_spawn_ctx_offsets spawn_ctx = plan.spawn_ctx;
  if (!plan.tracks_goroutines()) spawn_ctx.enabled = 0;
  std::memcpy(const_cast<mws_spawn_ctx_offsets*>(&p->skel_->rodata->spawn_ctx_off), &spawn_ctx, sizeof(spawn_ctx));
  p->skel_->rodata->mallocgc_entry_unprobed = plan.mallocgc_entry_unprobed ? 1u : 0u;
  std::memcpy(const_cast<mws_code_range*>(&p->skel_->rodata->goexit_code), &plan.goexit_code, sizeof(plan.goexit_code));
  std::memcpy(const_cast<mws_code_range*>(&p->skel_->rodata->request_code), &plan.request_code,
              sizeof(plan.request_code));
  // Routes need the request's start (the requests probe, or a key) and a router.
  const bool keyed = plan.request_key.ret != 0;
  const bool routes = !plan.routes.empty() && (!plan.requests.empty() || keyed);
  p->skel_->rodata->routes_enabled = routes && !opt.empty_programs ? 1u : 0u;
  p->skel_->rodata->requests_keyed = routes && keyed && !opt.empty_programs ? 1u : 0u;
  std::memcpy(const_cast<mws_request_key_site*>(&p->skel_->rodata->request_key_site), &plan.request_key,
              sizeof(plan.request_key));
  // Exact mode keeps a request's allocations before its router in the
  // kernel (bpf/events.h, request_pending): ~8 MiB, so only then.
  const bool pending = routes && !opt.empty_programs && !plan.alloc.empty();
  p->skel_->rodata->pending_enabled = pending ? 1u : 0u;
  p->skel_->rodata->pending_slots = opt.pending_slots;
  if (int err = bpf_map__set_max_entries(p->skel_->maps.request_pending, pending ? MWS_REQUEST_PENDING_MAX : 1))
    return Error{"cannot size the pending-request map: " + errno_text(err)};
  if (int err = bpf_map__set_max_entries(p->skel_->maps.events, static_cast<uint32_t>(opt.ringbuf_bytes)))
    return Error{"cannot size the ring buffer: " + errno_text(err)};
  // Load only the programs this plan uses.
  const bool real = !opt.empty_programs;
  bpf_program__set_autoload(progs->on_mallocgc, real && !plan.alloc.empty());
  bpf_program__set_autoload(progs->on_mprof_malloc, real && !plan.sample_alloc.empty());
  bpf_program__set_autoload(progs->on_mcache_tiny_flush, real && !plan.tiny_refill.empty());
  bpf_program__set_autoload(progs->on_mcache_release_all, real && !plan.tiny_release_all.empty());
  bpf_program__set_autoload(progs->on_newproc_runqput, real && !plan.spawn.empty());
  bpf_program__set_autoload(progs->on_newproc1_ret, real && !plan.spawn_newproc1_ret.empty());
  bpf_program__set_autoload(progs->on_newcoro_ret, real && !plan.spawn_coro.empty());
  bpf_program__set_autoload(progs->on_goexit1, real && !plan.exit.empty());
  bpf_program__set_autoload(progs->on_gdestroy, real && !plan.exit_gdestroy.empty());
  bpf_program__set_autoload(progs->on_request, real && !plan.requests.empty());
  bpf_program__set_autoload(progs->on_route, real && routes);
  bpf_program__set_autoload(progs->on_empty, !real);

  if (int err = go_probes::load(p->skel_)) return bpf_load_error(err);
  if (plan.routes.size() > MWS_ROUTE_SITES_MAX) return Error{"too many route sites in one binary"};
  if (routes && real)
    for (const RouteProbe& r : plan.routes) {
      const uint64_t key = r.site.vaddr;
      if (bpf_map__update_elem(p->skel_->maps.route_sites, &key, sizeof(key), &r.spec, sizeof(r.spec), BPF_ANY) != 0)
        return Error{"cannot write the route site of " + r.site.symbol + ": " + errno_text(errno)};
    }

  auto attach_all = [&](bpf_program* prog, const std::vector<ProbeSite>& sites) -> Status {
    for (const auto& site : sites) {
      // The cookie: the site's link-time address, and whether it is a stack-check jump (bpf/events.h).
      const uint64_t cookie = site.vaddr | (site.on_stack_check_jump ? MWS_COOKIE_STACK_CHECK_JUMP : 0);
      LIBBPF_OPTS(bpf_uprobe_opts, uprobe, .bpf_cookie = cookie, .retprobe = false);
      bpf_link* link =
          bpf_program__attach_uprobe_opts(prog, opt.pid, site.binary_path.c_str(), site.file_offset, &uprobe);
      if (!link) return uprobe_attach_error(site.symbol, site.binary_path, errno);
      p->links_.push_back(link);
    }
    return Ok{};
  };
  // On failure the destructor detaches what was attached.
  auto prog = [&](bpf_program* p) { return real ? p : progs->on_empty; };
  if (auto st = attach_all(prog(progs->on_mallocgc), plan.alloc); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_mprof_malloc), plan.sample_alloc); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_mcache_tiny_flush), plan.tiny_refill); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_mcache_release_all), plan.tiny_release_all); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_newproc_runqput), plan.spawn); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_newproc1_ret), plan.spawn_newproc1_ret); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_newcoro_ret), plan.spawn_coro); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_goexit1), plan.exit); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_gdestroy), plan.exit_gdestroy); !st) return st.error();
  if (auto st = attach_all(prog(progs->on_request), plan.requests); !st) return st.error();
  if (routes)
    for (const RouteProbe& r : plan.routes)
      if (auto st = attach_all(prog(progs->on_route), {r.site}); !st) return st.error();
  return p;
}

GoProbes::~GoProbes() {
  detach();
  if (skel_) go_probes::destroy(skel_);
}

void GoProbes::open_window() { __atomic_store_n(&skel_->bss->window_open, 1u, __ATOMIC_SEQ_CST); }

void GoProbes::close_window() { __atomic_store_n(&skel_->bss->window_open, 0u, __ATOMIC_SEQ_CST); }

void GoProbes::detach() {
  close_window();
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
}

bpf_map* GoProbes::events_map() const { return skel_->maps.events; }

BpfCounters GoProbes::read_counters() const {
  const auto sum = sum_percpu_counters(skel_->maps.counters, MWS_CNT__COUNT);
  BpfCounters c;
  c.ringbuf_drops = sum[MWS_CNT_RINGBUF_DROPS];
  c.stack_errors = sum[MWS_CNT_STACK_ERRORS];
  c.task_read_errors = sum[MWS_CNT_TASK_READ_ERRORS];
  c.requests = sum[MWS_CNT_REQUESTS];
  c.tiny_allocs = sum[MWS_CNT_TINY_ALLOCS];
  c.request_state_full = sum[MWS_CNT_REQUEST_STATE_FULL];
  c.pending_lost = sum[MWS_CNT_PENDING_LOST];
  c.spawn_ctx_lost = sum_percpu_counters(skel_->maps.spawn_ctx_lost, 1)[MWS_SPAWN_CTX_LOST_FULL];
  return c;
}

bool GoProbes::seed_spawn_context(uint64_t g_addr, uint64_t goid, uint64_t ctx) const {
  const mws_spawn_ctx value{ctx, ctx != 0 ? 1u : 0u, 0, 0};  // 0: known to have no context
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.spawn_ctx), &g_addr, &value, BPF_NOEXIST) != 0)
    return errno == EEXIST;  // created while we read: BPF's own context stands
  // Its goid's slot: the context first under goid 0, then the goid, so a
  // spawn that reads the slot meanwhile never pairs the goid with another
  // goroutine's context (BPF checks the goid before and after).
  const uint32_t slot = static_cast<uint32_t>(goid & (MWS_GOID_CTX_SLOTS - 1));
  mws_goid_ctx by_goid{0, value.ctx, value.depth, 0};
  const int fd = bpf_map__fd(skel_->maps.goid_ctx);
  if (bpf_map_update_elem(fd, &slot, &by_goid, BPF_ANY) == 0) {
    by_goid.goid = goid;
    bpf_map_update_elem(fd, &slot, &by_goid, BPF_ANY);
  }
  return true;
}

std::vector<mws_task_exit> GoProbes::pending_exits() const {
  std::vector<mws_task_exit> out;
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<mws_exit_batch> per_cpu(static_cast<size_t>(ncpu));  // 8-byte multiple: no padding
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.exit_batch), &zero, per_cpu.data()) != 0) return out;
  for (const auto& b : per_cpu)
    for (uint32_t i = 0; i < b.count && i < MWS_EXIT_BATCH; i++)
      if (b.exit[i].g_addr != 0) out.push_back(b.exit[i]);
  std::sort(out.begin(), out.end(), [](const mws_task_exit& a, const mws_task_exit& b) { return a.ts_ns < b.ts_ns; });
  return out;
}

void GoProbes::for_each_alloc_count(
    const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return;
  const int fd = bpf_map__fd(skel_->maps.alloc_counts);
  auto sum = [&](const mws_alloc_key& key, const mws_alloc_counts* per_cpu) {
    uint64_t objects = 0, bytes = 0;
    for (int c = 0; c < ncpu; c++) {
      objects += per_cpu[c].objects;
      bytes += per_cpu[c].bytes;
    }
    if (objects) visit(key, objects, bytes);
  };
  // In batches: two system calls per key would cost ~0.1 s a second with a
  // full map, read each second for the status line and the live view.
  // Nothing is visited before the whole map is read: a failure part way
  // falls back to reading it again one key at a time.
  constexpr uint32_t kBatch = 4096;
  std::vector<mws_alloc_key> keys;
  std::vector<mws_alloc_counts> values;
  uint32_t token = 0;
  for (bool first = true;; first = false) {
    const size_t have = keys.size();
    keys.resize(have + kBatch);
    values.resize(keys.size() * size_t(ncpu));
    uint32_t n = kBatch;
    const int err = bpf_map_lookup_batch(fd, first ? nullptr : &token, &token, keys.data() + have,
                                         values.data() + have * size_t(ncpu), &n, nullptr);
    keys.resize(have + (err == 0 || err == -ENOENT ? n : 0));
    if (err == -ENOENT) {  // that was the last batch
      for (size_t i = 0; i < keys.size(); i++) sum(keys[i], &values[i * size_t(ncpu)]);
      return;
    }
    if (err != 0) break;
  }
  // A kernel without batch lookups for this map: one key at a time.
  mws_alloc_key key{}, next{};
  const mws_alloc_key* prev = nullptr;  // get_next_key(NULL) gives the first
  std::vector<mws_alloc_counts> per_cpu(static_cast<size_t>(ncpu));
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0) sum(key, per_cpu.data());
  }
}

void GoProbes::for_each_pending_count(
    const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit) const {
  const int fd = bpf_map__fd(skel_->maps.request_pending);
  uint64_t g = 0, next = 0;
  const uint64_t* prev = nullptr;
  mws_request_pending p{};
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    g = next;
    prev = &g;
    if (bpf_map_lookup_elem(fd, &g, &p) != 0) continue;
    for (uint32_t i = 0; i < p.used && i < MWS_PENDING_SLOTS; i++) {
      const mws_pending_count& s = p.slot[i];
      if (s.objects == 0) continue;
      const mws_alloc_key key{s.stack_hash, s.type_addr, s.spawn_ctx, MWS_ROUTE_TAG_PENDING | p.serial};
      visit(key, s.objects, s.bytes);
    }
  }
}

void GoProbes::drain_alloc_counts(
    const std::function<bool(const mws_alloc_key&)>& take,
    const std::function<void(const mws_alloc_key&, uint64_t objects, uint64_t bytes)>& visit) {
  // for_each_alloc_count reads the whole map (in batches) before it visits
  // a key, so deleting the visited ones does not disturb the reading. (Its
  // key-at-a-time fallback starts over after a deleted key: kept keys are
  // visited again, and passed over again; taken ones are gone.)
  const int fd = bpf_map__fd(skel_->maps.alloc_counts);
  for_each_alloc_count([&](const mws_alloc_key& k, uint64_t objects, uint64_t bytes) {
    if (!take(k)) return;
    bpf_map_delete_elem(fd, &k);
    visit(k, objects, bytes);
  });
}

}  // namespace mws::probes
