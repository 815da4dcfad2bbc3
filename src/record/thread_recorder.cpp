#include "record/thread_recorder.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "target/go_threads.h"
#include "target/gopclntab.h"
#include "target/os_threads.h"
#include "target/remote_memory.h"

namespace mws::record {
namespace {

// The kernel's list now; a failure (the target exited) leaves the last one.
void list_threads(pid_t pid, std::vector<target::OsThread>& out, std::string& problem) {
  if (auto ts = target::list_os_threads(pid))
    out = std::move(*ts);
  else if (problem.empty())
    problem = ts.error().message;
}

}  // namespace

Result<std::unique_ptr<ThreadRecorder>> ThreadRecorder::attach(pid_t pid, uint64_t ringbuf_bytes,
                                                               collect::ThreadRecording& rec,
                                                               collect::RingConsumer& consumer) {
  std::unique_ptr<ThreadRecorder> r(new ThreadRecorder());
  r->pid_ = pid;
  r->rec_ = &rec;
  rec.recorded = true;
  // Thread creation is rare next to allocations: a small ring will do.
  auto probes = probes::ThreadProbes::attach(pid, std::min<uint64_t>(ringbuf_bytes, 4ull << 20));
  if (!probes) return probes.error();
  r->probes_ = std::move(*probes);
  if (auto st = consumer.add(r->probes_->events_map(),
                             [&rec](const void* data, size_t size) { collect::decode_thread_event(rec, data, size); });
      !st)
    return st.error();
  return r;
}

void ThreadRecorder::open_window() {
  probes_->open_window();
  list_threads(pid_, rec_->at_start, rec_->problem);
}

void ThreadRecorder::finish() {
  const auto c = probes_->read_counters();
  rec_->ringbuf_drops = c.ringbuf_drops;
  rec_->stack_errors = c.stack_errors;
  list_threads(pid_, rec_->at_end, rec_->problem);
}

void read_go_threads(collect::ThreadRecording& rec, const target::ProcessInfo& proc, const target::ElfFile& exe,
                     const std::string& go_version, const target::GoRuntimeOffsets& g) {
  auto fail = [&](const std::string& why) {
    if (rec.problem.empty()) rec.problem = "the Go runtime's threads (Ms) were not read, so holders are unknown: " + why;
  };
  auto allm = exe.find_symbol("runtime.allm");
  if (!allm) return fail("runtime.allm not found (a stripped binary: no .symtab)");
  auto m = target::go_m_offsets_from_dwarf(exe);
  if (!m) return fail(m.error().message);
  auto table = target::GoPclntab::parse(exe, go_version);
  if (!table) return fail(table.error().message);
  auto bias = target::load_bias(proc, exe);
  if (!bias) return fail("cannot find where the executable is loaded");
  const uint64_t b = static_cast<uint64_t>(*bias);
  auto frame_size = [&](uint64_t pc) { return table->sp_delta(pc - b); };
  auto threads = target::read_go_threads(target::RemoteMemory(proc.pid), allm->value + b, *m, g, frame_size);
  if (!threads) return fail(threads.error().message);
  rec.go_threads = std::move(*threads);
  rec.go_threads_read = true;
}

Status check_native_target(const RecordOptions& opt, const std::string& what) {
  if (!opt.go_only_options.empty())
    return Error{what + " is not a Go program: " + fmt::format("{}", fmt::join(opt.go_only_options, ", ")) +
                 " need(s) a Go runtime; --threads and --c-heap work on it"};
  return Ok{};
}

}  // namespace mws::record
