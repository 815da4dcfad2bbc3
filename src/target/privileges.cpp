#include "target/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mws::target {
namespace {

constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_cap(const __user_cap_data_struct (&data)[2], int cap) {
  return data[cap / 32].effective & (1u << (cap % 32));
}

}  // namespace

bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return true;  // cannot tell: let the kernel decide
  return has_cap(data, cap);
}

Status check_bpf_privileges() {
  if (has_capability(kCapSysAdmin) || (has_capability(kCapBpf) && has_capability(kCapPerfmon))) return Ok{};
  return Error{"not permitted: mwscope needs CAP_SYS_ADMIN (to create uprobes) and CAP_SYS_PTRACE (to read the "
               "target); run it as root (sudo)"};
}

}  // namespace mws::target
