// pprof output: gzip-compressed profile.proto files that `go tool pprof`,
// Pyroscope, Parca and Grafana open like the Go runtime's own profiles.
// The messages: proto/pprof_profile.proto. What each file holds:
// docs/profile.md#pprof.
#pragma once

#include <string>

#include "model/profile.h"

namespace mws {

// A heap profile as Go writes one: sample types alloc_objects/count,
// alloc_space/bytes, inuse_objects/count, inuse_space/bytes (sampled mode:
// estimates scaled like Go's, period = MemProfileRate); one sample per
// stack, labelled `middleware` with its owner (attribute_profile first).
// With routes recorded, one sample per ProfileStack::by_route share,
// labelled `route` (the heap in use split by the shares' objects).
// Inlined calls share their caller's location, one line each.
// Returns the gzip-compressed bytes.
std::string render_pprof_heap(const Profile& profile);
// A goroutine profile (goroutine/count) of the goroutines alive at the end:
// by the stack each is parked on, or its creation stack when it was
// running; labelled `state` (the wait reason), `leaked` ("true"/"false")
// and `middleware`; the goroutines the spawn probes saw (when memory could
// not be read) also `route`, per TaskGroup::by_route.
std::string render_pprof_goroutines(const Profile& profile);

// What the files hold, for the CLI to print beside their names.
std::string describe_pprof_heap(const Profile& profile);
std::string describe_pprof_goroutines(const Profile& profile);

}  // namespace mws
