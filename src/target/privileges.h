// Whether this process may load BPF programs and attach uprobes.
#pragma once

#include "util/result.h"

namespace mws::target {

// Ok when root or holding CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN);
// otherwise an error that says what to do.
Status check_bpf_privileges();

}  // namespace mws::target
