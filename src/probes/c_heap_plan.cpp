#include "probes/c_heap_plan.h"

#include <fmt/format.h>

#include <regex>

#include "probes/instruction_sites.h"
#include "probes/prologue.h"
#include "target/go_functions.h"
#include "target/gopclntab.h"

namespace mws::probes {
namespace {

// glibc's allocator entry points and what each one's arguments mean
// (events.h, mws_c_alloc_func). aligned_alloc is memalign under another name.
struct AllocatorSymbol {
  const char* name;
  uint32_t func;
};
constexpr AllocatorSymbol kAllocators[] = {
    {"malloc", MWS_C_MALLOC},           {"calloc", MWS_C_CALLOC},
    {"realloc", MWS_C_REALLOC},         {"memalign", MWS_C_MEMALIGN},
    {"aligned_alloc", MWS_C_MEMALIGN},  {"posix_memalign", MWS_C_POSIX_MEMALIGN},
};

bool is_libc(const std::string& path) {
  static const std::regex libc(R"((^|/)libc(\.so[.0-9]*|-[0-9.]+\.so)$)");
  return std::regex_search(path, libc);
}

}  // namespace

Result<CHeapPlan> plan_c_heap(const target::ProcessInfo& proc, const std::string& what) {
  CHeapPlan plan;
  for (const auto& m : proc.mappings)
    if (m.executable && is_libc(m.path)) {
      plan.libc_display = m.path;
      break;
    }
  if (plan.libc_display.empty())
    return Error{"--c-heap: " + what +
                 " maps no glibc libc.so.6, so it makes no C allocation mwscope can see (a Go binary built "
                 "without cgo, or a static binary)"};
  // Beneath the target's root (its symlinks stay inside it), opened once:
  // the uprobes attach to this same open file.
  auto libc = target::ElfFile::open_in_root(proc.pid, plan.libc_display);
  if (!libc) return Error{"--c-heap: cannot read " + plan.libc_display + ": " + libc.error().message};
  plan.libc_path = (*libc)->path();

  auto site = [&](const char* name, uint32_t func) -> std::optional<CHeapSite> {
    auto sym = (*libc)->find_dynamic_symbol(name);
    if (!sym || !sym->is_function) return std::nullopt;
    auto off = (*libc)->vaddr_to_offset(sym->value);
    if (!off) return std::nullopt;
    // Past a leading TEST/CMP (free's `TEST RDI, RDI`), which the kernel
    // would single-step at ~10x the cost of the jump after it.
    const uint64_t skip = find_c_entry_probe_offset((*libc)->read_vaddr(sym->value, 32), sym->value);
    return CHeapSite{name, *off + skip, func};
  };
  for (const AllocatorSymbol& a : kAllocators) {
    auto s = site(a.name, a.func);
    if (!s) continue;
    bool same_code = false;  // an alias: one probe per address, or it counts twice
    for (const auto& have : plan.allocs) same_code |= have.file_offset == s->file_offset;
    if (!same_code) plan.allocs.push_back(*s);
  }
  auto free_site = site("free", 0);
  if (plan.allocs.empty() || plan.allocs.front().func != MWS_C_MALLOC || !free_site)
    return Error{"--c-heap: " + plan.libc_display + " exports no malloc and free: not a glibc mwscope knows"};
  plan.free = *free_site;
  plan.libc = std::shared_ptr<const target::ElfFile>(std::move(*libc));
  return plan;
}

int64_t go_tls_g_offset(const target::ElfSegment& tls, uint64_t tlsg_value) {
  const uint64_t align = tls.align ? tls.align : 1;
  const uint64_t block = (tls.memsz + align - 1) / align * align;
  return static_cast<int64_t>(tlsg_value) - static_cast<int64_t>(block);
}

Result<mws_cgo_context> plan_cgo_context(const target::ElfFile& exe, const std::string& go_version,
                                         const target::GoRuntimeOffsets& offsets, int64_t load_bias) {
  mws_cgo_context c{};
  if (offsets.g_m < 0 || offsets.m_curg < 0 || offsets.g_syscallsp < 0 || offsets.g_syscallpc < 0)
    return Error{"the offsets of g.m, m.curg and g.syscallsp are unknown (" + offsets.source + ")"};
  const auto& tls = exe.tls_segment();
  if (!tls) return Error{"the executable has no TLS segment, where Go keeps g"};
  // runtime.tlsg names g's slot; a stripped binary whose TLS holds nothing
  // else keeps it in the only word there.
  if (auto tlsg = exe.find_tls_symbol("runtime.tlsg"))
    c.tls_g_offset = go_tls_g_offset(*tls, tlsg->value);
  else if (go_tls_g_offset(*tls, 0) == -8)
    c.tls_g_offset = -8;
  else
    return Error{"g's TLS slot is unknown: the executable is stripped and its TLS holds more than g"};

  target::GoFunctionIndex functions(exe, go_version, exe.path());
  auto cgocall = functions.find("runtime.cgocall");
  auto entersyscall = functions.find("runtime.entersyscall");
  if (!cgocall || !entersyscall) return Error{"runtime.cgocall or runtime.entersyscall not found"};
  auto code = exe.read_vaddr(cgocall->entry, cgocall->size);
  auto calls = find_calls_to(code, cgocall->entry, entersyscall->entry);
  if (calls.size() != 1)
    return Error{fmt::format("runtime.cgocall calls runtime.entersyscall {} times, not once", calls.size())};
  const uint64_t ret = calls.front() + kCallRel32Bytes;
  auto pclntab = target::GoPclntab::parse(exe, go_version);
  if (!pclntab) return Error{"cannot read .gopclntab: " + pclntab.error().message};
  auto frame = pclntab->sp_delta(ret);
  if (!frame || *frame < 16) return Error{"runtime.cgocall's frame size is unreadable"};
  c.cgocall_ret = ret + static_cast<uint64_t>(load_bias);
  c.cgocall_bp_from_sp = static_cast<uint64_t>(*frame) - 8;
  c.g_m = offsets.g_m;
  c.m_curg = offsets.m_curg;
  c.g_syscallsp = offsets.g_syscallsp;
  c.g_syscallpc = offsets.g_syscallpc;
  return c;
}

}  // namespace mws::probes
