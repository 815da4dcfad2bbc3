#include "probes/alloc_probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "bpf/events.h"
#include "go_alloc.skel.h"

namespace mws::probes {
namespace {

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

Result<std::unique_ptr<AllocProbe>> AllocProbe::attach(const ProbeSite& site, const AllocProbeOptions& opt) {
  std::unique_ptr<AllocProbe> p(new AllocProbe());
  p->skel_ = go_alloc::open();
  if (!p->skel_) return Error{"cannot open the BPF object: " + errno_text(errno)};

  p->skel_->rodata->target_tgid = static_cast<uint32_t>(opt.pid);
  if (int err = bpf_map__set_max_entries(p->skel_->maps.events, static_cast<uint32_t>(opt.ringbuf_bytes)))
    return Error{"cannot size the ring buffer: " + errno_text(err)};
  bpf_program__set_autoload(opt.empty_program ? p->skel_->progs.on_mallocgc : p->skel_->progs.on_mallocgc_empty,
                            false);

  if (int err = go_alloc::load(p->skel_)) {
    if (err == -EPERM || err == -EACCES)
      return Error{"not permitted to load BPF programs: run mwscope as root (or with CAP_BPF and CAP_PERFMON)"};
    return Error{"cannot load the BPF programs (" + errno_text(err) +
                 "); the kernel needs BPF ring buffers and BTF (Linux >= 5.8 with CONFIG_DEBUG_INFO_BTF)"};
  }

  bpf_program* prog = opt.empty_program ? p->skel_->progs.on_mallocgc_empty : p->skel_->progs.on_mallocgc;
  bpf_link* link = bpf_program__attach_uprobe(prog, false, opt.pid, site.binary_path.c_str(), site.file_offset);
  if (!link) {
    int err = errno;
    return Error{"cannot attach a uprobe to " + site.symbol + " in " + site.binary_path + ": " + errno_text(err)};
  }
  if (opt.empty_program)
    p->skel_->links.on_mallocgc_empty = link;
  else
    p->skel_->links.on_mallocgc = link;
  p->attached_ = 1;
  return p;
}

AllocProbe::~AllocProbe() {
  if (skel_) go_alloc::destroy(skel_);
}

void AllocProbe::detach() {
  if (skel_) go_alloc::detach(skel_);
  attached_ = 0;
}

bpf_map* AllocProbe::events_map() const { return skel_->maps.events; }

BpfCounters AllocProbe::read_counters() const {
  BpfCounters c;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return c;
  std::vector<uint64_t> vals(static_cast<size_t>(ncpu));
  int fd = bpf_map__fd(skel_->maps.counters);
  auto sum = [&](uint32_t key) {
    uint64_t total = 0;
    if (bpf_map_lookup_elem(fd, &key, vals.data()) == 0)
      for (auto v : vals) total += v;
    return total;
  };
  c.probe_hits = sum(MWS_CNT_PROBE_HITS);
  c.events_submitted = sum(MWS_CNT_EVENTS_SUBMITTED);
  c.ringbuf_drops = sum(MWS_CNT_RINGBUF_DROPS);
  c.stack_errors = sum(MWS_CNT_STACK_ERRORS);
  return c;
}

}  // namespace mws::probes
