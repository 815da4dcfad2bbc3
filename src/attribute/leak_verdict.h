// The leak verdict on goroutines read at the end: from each goroutine's
// evidence (GoroutineEvidence, interpret/) and its group's origin, which
// only the middleware rules can tell (a go statement in handler or
// middleware code). The rule, stated once (README "Leaked goroutines"):
//  - leaked: what it waits on is unreachable, or Go's own detector marked
//    it, or it was started per request and has been blocked at least the
//    leak age on a channel, select, lock or condition;
//  - in flight: a request blocked inside its handler that long (listed
//    apart: not a leak, but an SRE wants it);
//  - long-lived: blocked that long, started at start-up: by design;
//  - suspect: blocked that long and neither, where its group grew while
//    recording or the reachability scan did not reach it: shown, not
//    counted as leaked.
#pragma once

#include "model/profile.h"

namespace mws::attribute {

// Fills the verdict fields of one group; `request_code`: its go statement
// is in handler or middleware code.
void decide_group(GoroutineGroup& group, bool request_code);

// Sums the groups' verdicts into the summary and orders the groups, most
// leaked first.
void sum_verdicts(GoroutineSnapshotSummary& summary);

}  // namespace mws::attribute
