// The one-shot recording: inspect the target, attach, collect until told
// to stop (or the duration ends, or the target exits), detach, then
// symbolize and build the Profile. Detaching always happens before
// symbolizing, so the target pays for probes only while we record. A loop
// around a record::Session (session.h), which serve drives too.
#pragma once

#include "model/profile.h"
#include "record/record_options.h"
#include "util/result.h"

namespace mws::record {

Result<Profile> record(const RecordOptions& opt);

}  // namespace mws::record
