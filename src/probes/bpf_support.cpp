#include "probes/bpf_support.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "target/privileges.h"

namespace mws::probes {
namespace {

// libbpf's warnings (a verifier log, a failed attach), kept instead of
// printed: every failure gets mwscope's own one-line message, and only a
// verifier rejection shows the log, which is what a bug report needs.
std::string g_libbpf_log;
int keep_libbpf_warning(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_WARN || g_libbpf_log.size() >= (1u << 20)) return 0;
  // One call may carry the whole verifier log, whose end (the reason) matters most.
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  if (n > 0) {
    std::string text(size_t(n) + 1, '\0');
    std::vsnprintf(text.data(), text.size(), format, again);
    text.pop_back();
    const size_t keep = (1u << 20) - g_libbpf_log.size();
    g_libbpf_log.append(text.size() > keep ? text.substr(text.size() - keep) : text);
  }
  va_end(again);
  return 0;
}

}  // namespace

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

void capture_libbpf_log() {
  libbpf_set_print(keep_libbpf_warning);
  g_libbpf_log.clear();
}

Error bpf_load_error(int err) {
  // The verifier also answers EACCES; privileges were checked before
  // we got here, so as root it is the verifier (libbpf kept its log).
  if ((err == -EPERM || err == -EACCES) && geteuid() != 0)
    return Error{"not permitted to load BPF programs: run mwscope as root (it needs CAP_SYS_ADMIN and "
                 "CAP_SYS_PTRACE)"};
  if (err == -EACCES) {
    std::fputs(g_libbpf_log.c_str(), stderr);
    return Error{"this kernel's BPF verifier rejected mwscope's programs (its log is above); please report it "
                 "with `uname -r`"};
  }
  return Error{"cannot load the BPF programs (" + errno_text(err) +
               "); the kernel needs BPF ring buffers, uprobe BPF cookies and BTF (Linux >= 5.15 with "
               "CONFIG_DEBUG_INFO_BTF)"};
}

Error uprobe_attach_error(const std::string& symbol, const std::string& binary, int err) {
  std::string hint;
  if ((err == EACCES || err == EPERM) && !target::has_capability(target::kCapSysAdmin))
    hint = " (this kernel creates uprobes only for CAP_SYS_ADMIN, whatever CAP_BPF and CAP_PERFMON allow: "
           "run mwscope as root, or with CAP_SYS_ADMIN and CAP_SYS_PTRACE)";
  return Error{"cannot attach a uprobe to " + symbol + " in " + binary + ": " + errno_text(err) + hint};
}

std::vector<uint64_t> sum_percpu_counters(const bpf_map* counters, uint32_t count) {
  std::vector<uint64_t> totals(count, 0);
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return totals;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  const int fd = bpf_map__fd(counters);
  for (uint32_t key = 0; key < count; key++)
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0)
      for (uint64_t v : per_cpu) totals[key] += v;
  return totals;
}

}  // namespace mws::probes
