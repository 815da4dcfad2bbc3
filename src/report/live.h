// The live view (--interval): every interval, a compact block of what
// happened in it, from the recording so far: per middleware objects and
// bytes per second (and per request), the heap in use and its change, the
// goroutines and the leak groups that grow, the events lost.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "model/profile.h"

namespace mws {

class LiveView {
 public:
  // The block for `now` (a Profile of everything since attach, attributed),
  // against the previous one given; the first is against attach.
  std::string render(const Profile& now);

 private:
  struct MiddlewareTotals {
    uint64_t objects = 0, bytes = 0;
    int64_t inuse_bytes = 0;
  };
  double elapsed_s_ = 0;
  uint64_t events_ = 0, dropped_ = 0, requests_ = 0;
  int64_t inuse_bytes_ = 0;
  bool inuse_known_ = false;
  uint64_t goroutines_ = 0, leaked_ = 0;
  bool goroutines_known_ = false;
  std::map<std::string, MiddlewareTotals> middleware_;
  std::map<std::pair<std::string, std::string>, uint64_t> leak_groups_;  // (start, parked in) -> leaked
};

// When the recording so far ends: the interval's end (Unix ns).
uint64_t interval_end_unix_ns(const Profile& p);
// The --pprof-dir file name of an interval, without extension:
// "mwscope-4242-20261128T033354.250Z" (the target and the interval's end, UTC, to the millisecond).
std::string interval_file_stem(const Profile& p);
// The one status line while recording until Ctrl-C on a terminal.
std::string status_line(double elapsed_s, double events_per_s, uint64_t dropped);

}  // namespace mws
