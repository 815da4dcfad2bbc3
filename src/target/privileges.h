// Whether this process may load BPF programs and attach uprobes.
//
// The least set that works on Linux 6.18 is CAP_SYS_ADMIN and
// CAP_SYS_PTRACE (tested by the [caps] BPF test): since the 2025 change
// "perf: Require CAP_SYS_ADMIN for uprobes" (also in stable kernels) only
// CAP_SYS_ADMIN may create a uprobe perf event, and CAP_SYS_ADMIN also
// grants what CAP_BPF and CAP_PERFMON would; CAP_SYS_PTRACE reads a
// target that holds capabilities mwscope lacks (a root server holds them
// all). Older kernels take CAP_BPF + CAP_PERFMON instead of CAP_SYS_ADMIN.
#pragma once

#include "util/result.h"

namespace mws::target {

// Ok when holding CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON (enough on older
// kernels; on newer ones the uprobe attach then fails with its own message);
// otherwise an error that says what to do.
Status check_bpf_privileges();

// Whether this process holds `cap` (CAP_SYS_ADMIN = 21...) in its effective set.
bool has_capability(int cap);
inline constexpr int kCapSysPtrace = 19;
inline constexpr int kCapSysAdmin = 21;

}  // namespace mws::target
