// --threads within one session: attaches the thread tracepoints, feeds
// their ring buffer into a ThreadRecording, and lists the target's threads
// as the window opens and after it closes; for a Go target, the runtime's
// Ms too. Works on any process, Go or not.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "collect/ring_consumer.h"
#include "collect/thread_recording.h"
#include "probes/thread_probes.h"
#include "record/record_options.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/process.h"
#include "util/result.h"

namespace mws::record {

class ThreadRecorder {
 public:
  // Adds the thread ring to `consumer`; `rec` must outlive both and is
  // filled as they poll.
  static Result<std::unique_ptr<ThreadRecorder>> attach(pid_t pid, uint64_t ringbuf_bytes,
                                                        collect::ThreadRecording& rec, collect::RingConsumer& consumer);
  uint32_t probes_attached() const { return probes_->probes_attached(); }
  // Opens the window and lists the threads alive now.
  void open_window();
  void close_window() { probes_->close_window(); }
  void detach() { probes_->detach(); }
  // Once detached and drained: the counters, and the threads alive now.
  void finish();

 private:
  ThreadRecorder() = default;
  pid_t pid_ = 0;
  collect::ThreadRecording* rec_ = nullptr;
  std::unique_ptr<probes::ThreadProbes> probes_;
};

// The Go runtime's Ms now, into rec.go_threads (or rec.problem says why
// not): runtime.allm from .symtab, m.procid, m.lockedg and m.alllink from
// DWARF (the per-version table has m.curg only).
void read_go_threads(collect::ThreadRecording& rec, const target::ProcessInfo& proc, const target::ElfFile& exe,
                     const std::string& go_version, const target::GoRuntimeOffsets& g);

// The one place that decides what a target without a Go runtime supports:
// --threads and --c-heap. Go-only options asked for explicitly
// (opt.go_only_options) are refused in one line that names them.
Status check_native_target(const RecordOptions& opt, const std::string& what);

}  // namespace mws::record
