#include "probes/c_heap_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "native_probes.skel.h"
#include "probes/bpf_support.h"

namespace mws::probes {

Result<std::unique_ptr<CHeapProbes>> CHeapProbes::attach(const CHeapPlan& plan, pid_t pid, uint64_t ringbuf_bytes,
                                                         bool empty_programs) {
  capture_libbpf_log();
  std::unique_ptr<CHeapProbes> p(new CHeapProbes());
  p->skel_ = native_probes::open();
  if (!p->skel_) return Error{"cannot open the BPF object: " + errno_text(errno)};
  p->skel_->rodata->target_tgid = static_cast<uint32_t>(pid);
  std::memcpy(const_cast<mws_cgo_context*>(&p->skel_->rodata->cgo), &plan.cgo, sizeof(plan.cgo));
  if (int err = bpf_map__set_max_entries(p->skel_->maps.c_events, static_cast<uint32_t>(ringbuf_bytes)))
    return Error{"cannot size the C heap's ring buffer: " + errno_text(err)};
  auto* progs = &p->skel_->progs;
  bpf_program__set_autoload(progs->on_c_alloc_entry, !empty_programs);
  bpf_program__set_autoload(progs->on_c_alloc_return, !empty_programs);
  bpf_program__set_autoload(progs->on_c_free, !empty_programs);
  bpf_program__set_autoload(progs->on_c_empty, empty_programs);
  if (int err = native_probes::load(p->skel_)) return bpf_load_error(err);
  auto prog = [&](bpf_program* real) { return empty_programs ? progs->on_c_empty : real; };

  auto attach_one = [&](bpf_program* prog, const CHeapSite& site, bool retprobe) -> Status {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = site.func, .retprobe = retprobe);
    bpf_link* link = bpf_program__attach_uprobe_opts(prog, pid, plan.libc_path.c_str(), site.file_offset, &opts);
    if (!link) return uprobe_attach_error(site.symbol, plan.libc_display, errno);
    p->links_.push_back(link);
    return Ok{};
  };
  // On failure the destructor detaches what was attached.
  for (const auto& site : plan.allocs) {
    if (auto st = attach_one(prog(progs->on_c_alloc_entry), site, false); !st) return st.error();
    if (auto st = attach_one(prog(progs->on_c_alloc_return), site, true); !st) return st.error();
  }
  if (auto st = attach_one(prog(progs->on_c_free), plan.free, false); !st) return st.error();
  return p;
}

CHeapProbes::~CHeapProbes() {
  detach();
  if (skel_) native_probes::destroy(skel_);
}

void CHeapProbes::open_window() { __atomic_store_n(&skel_->bss->window_open, 1u, __ATOMIC_SEQ_CST); }

void CHeapProbes::close_window() { __atomic_store_n(&skel_->bss->window_open, 0u, __ATOMIC_SEQ_CST); }

void CHeapProbes::detach() {
  close_window();
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
}

bpf_map* CHeapProbes::events_map() const { return skel_->maps.c_events; }

CHeapCounters CHeapProbes::read_counters() const {
  const auto sum = sum_percpu_counters(skel_->maps.c_counters, MWS_C_CNT__COUNT);
  CHeapCounters c;
  c.ringbuf_drops = sum[MWS_C_CNT_RINGBUF_DROPS];
  c.unmatched_returns = sum[MWS_C_CNT_UNMATCHED_RETURNS];
  return c;
}

}  // namespace mws::probes
