#include "record/recording.h"

#include <cmath>

#include "record/session.h"

namespace mws::record {

// The one-shot driver: attach, take events in until told to stop (or the
// duration ends, or the target exits), with a status line and interval
// snapshots when asked, then detach and build the recording.
Result<Profile> record(const RecordOptions& opt) {
  auto session = Session::start(opt);
  if (!session) return session.error();
  Session& s = **session;
  double next_status = 1, next_interval = opt.interval_s;
  while (!(opt.stop && opt.stop->load())) {
    if (opt.duration_s > 0 && s.elapsed_s() >= opt.duration_s) break;
    auto alive = s.pump(100);
    if (!alive) return alive.error();
    if (!*alive) break;
    if (opt.on_status && s.elapsed_s() >= next_status) {
      opt.on_status(s.status());
      next_status = std::floor(s.elapsed_s()) + 1;
    }
    if (opt.on_interval && opt.interval_s > 0 && s.elapsed_s() >= next_interval) {
      auto profile = s.snapshot();
      if (!profile) return profile.error();
      opt.on_interval(std::move(*profile));
      while (next_interval <= s.elapsed_s()) next_interval += opt.interval_s;
    }
  }
  return s.finish();
}

}  // namespace mws::record
