// A long-lived recording of one target: attach once, take snapshots any
// number of times while the probes stay live, then finish (close the
// window, detach, read the end). The one-shot command (record()) and
// `mwscope serve` are two small drivers of it.
//
// Not thread-safe: one thread at a time calls pump(), snapshot() and
// finish() (serve guards each session with a mutex).
#pragma once

#include <memory>
#include <string>

#include "model/profile.h"
#include "record/record_options.h"
#include "util/result.h"

namespace mws::record {

class Session {
 public:
  // Inspects the target, attaches every probe, reads the target's state as
  // the window opens and calls opt.on_attached. Fails with one line, with
  // nothing left attached.
  static Result<std::unique_ptr<Session>> start(const RecordOptions& opt);
  ~Session();  // detaches, if finish() did not
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Takes in what the probes sent, waiting up to timeout_ms for it.
  // False once the target is gone (exited, or a zombie).
  Result<bool> pump(int timeout_ms);
  // Events received and dropped so far (the kernel's counts included).
  LiveStatus status();
  // Everything since attach as a Profile, the heap and goroutines read now,
  // while the probes stay live (events meanwhile wait in the ring buffer).
  Result<Profile> snapshot();
  // Closes the window, detaches, reads the end state: the recording.
  // Once only; the session is spent afterwards.
  Result<Profile> finish();

  double elapsed_s() const;
  bool target_exited() const;
  const std::string& what() const;  // "process 42 (/srv/api)"
  pid_t pid() const;

 private:
  struct State;
  explicit Session(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace mws::record
