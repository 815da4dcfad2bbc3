// The checks against the target runtime's own truth, each on one fixture
// build: the machine's Go builds them under their plain names
// ("allocserver"), the toolchain matrix under "go1.27/allocserver" and so on
// (test_go_matrix.cpp). Each starts its own server and recording and
// asserts with Catch2.
#pragma once

#include <string>

namespace mws::test {

// --c-heap: the C blocks each cgo middleware of cmemserver allocates, frees
// and keeps equal what the fixture did, charged through the goroutine's Go
// stack (test_c_heap.cpp).
void check_c_heap_cgo(const std::string& cmemserver);
// --threads: the threads cgoserver's middleware goroutines hold in C calls,
// its locked goroutine and its C pthreads, as the fixture counts them
// (test_threads.cpp).
void check_threads_cgo(const std::string& cgoserver);
// Exact mode: objects per function (innermost main.* frame) equal
// runtime.MemProfile at MemProfileRate 1 (test_alloc_exact.cpp).
void check_exact_counts(const std::string& allocserver);
// Sampled mode: raw samples, frees and in-use per function equal the
// runtime's own at MemProfileRate 4096; estimates within 10% of exact mode
// (test_alloc_sampled.cpp).
void check_sampled_counts(const std::string& allocserver);
// Sampled mode: the tiny allocations the sampler cannot see, counted where
// the runtime flushes mcache.tinyAllocs, lie between the runtime's own
// counts (/gc/heap/tiny/allocs:objects) around tinyalloc's allocations and
// around the recording (test_alloc_sampled.cpp).
void check_tiny_allocs(const std::string& tinyalloc);
// The heap in use read from the runtime's profile at attach and at the end
// equals runtime.MemProfile at MemProfileRate 1, the part kept before
// attach included; a steady server shows no change (test_heap_inuse.cpp).
void check_heap_inuse(const std::string& allocserver);
// Objects per request per middleware equal the construction and the
// runtime's profile, middleware named as their authors wrote them
// (test_middleware.cpp).
void check_middleware_per_request(const std::string& fixture);
// Beside Go's own leak detector (/debug/pprof/goroutineleak, Go 1.27): it
// finds the goroutines parked on what nothing else can reach, and mwscope
// shows them as Go marked them; mwscope also finds the long waits Go cannot
// prove are leaks (test_goroutines.cpp).
void check_beside_go_leak_detector(const std::string& taskserver);
// Leaked goroutines exact per site, workers and (Go 1.23+) coroutines seen
// ending (test_goroutines.cpp).
void check_goroutine_lifecycles(const std::string& taskserver);
// Work fanserver's FanOut hands to goroutines is its via goroutines, equal
// to the runtime's profile of those functions, self apart, and its leaked
// goroutines as many as it started; mode "exact" or "sampled"
// (test_fanout.cpp).
void check_fan_out(const std::string& fanserver, const std::string& mode);

}  // namespace mws::test
