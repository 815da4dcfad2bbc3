// The toolchain matrix: the same checks against the runtime's truth as the
// machine's Go gets (truth_checks.h), on the fixtures built by each of
// Debian's Go toolchains 1.21-1.27, and by 1.26 with
// GOEXPERIMENT=sizespecializedmalloc (scripts/build-go-matrix.sh, run by the
// build). Go 1.20 is covered by the stripped esbuild binary only
// (test_versions.cpp): Debian ships no go1.20 toolchain.
#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;

// Every build of the matrix, as scripts/build-go-matrix.sh names them.
#define MWS_GO_MATRIX_BUILDS(X)   \
  X("go1.21")                     \
  X("go1.22")                     \
  X("go1.23")                     \
  X("go1.24")                     \
  X("go1.25")                     \
  X("go1.26")                     \
  X("go1.26-sizespecializedmalloc") \
  X("go1.27")

TEST_CASE("the toolchain matrix built every Go version the tests name", "[bpf][matrix]") {
  std::ifstream in(fixture("go-matrix.txt"));
  REQUIRE(in);
  std::set<std::string> built, named;
  std::string line;
  while (std::getline(in, line)) built.insert(line.substr(0, line.find(' ')));
#define MWS_NAME(build) named.insert(build);
  MWS_GO_MATRIX_BUILDS(MWS_NAME)
#undef MWS_NAME
  CHECK(built == named);
}

#define MWS_MATRIX_TESTS(build)                                                                          \
  TEST_CASE(build ": exact mode counts every allocation per function, as the Go runtime does",         \
            "[bpf][matrix][exact]") {                                                                     \
    check_exact_counts(build "/allocserver");                                                             \
  }                                                                                                       \
  TEST_CASE(build ": sampled mode sees exactly the Go runtime's samples, frees and in-use",              \
            "[bpf][matrix][sampled]") {                                                                   \
    check_sampled_counts(build "/allocserver");                                                           \
  }                                                                                                       \
  TEST_CASE(build ": sampled mode reports the tiny allocations its sampler cannot see, as the runtime counts them", \
            "[bpf][matrix][sampled][tiny]") {                                                             \
    check_tiny_allocs(build "/tinyalloc");                                                                \
  }                                                                                                       \
  TEST_CASE(build ": the heap in use from before attach equals the runtime's", "[bpf][matrix][heap]") {         \
    check_heap_inuse(build "/allocserver");                                                               \
  }                                                                                                       \
  TEST_CASE(build ": objects per request per middleware equal the construction", "[bpf][matrix][middleware]") { \
    check_middleware_per_request(build "/allocserver");                                                   \
  }                                                                                                       \
  TEST_CASE(build ": leaked goroutines exact per site, workers and coroutines seen ending",              \
            "[bpf][matrix][goroutines]") {                                                                \
    check_goroutine_lifecycles(build "/taskserver");                                                      \
  }                                                                                                       \
  TEST_CASE(build ": work a middleware hands to goroutines is charged to it via goroutines, in exact mode", \
            "[bpf][matrix][fanout]") {                                                                     \
    check_fan_out(build "/fanserver", "exact");                                                           \
  }                                                                                                       \
  TEST_CASE(build ": C memory of cgo middleware charged through the goroutine's Go stack",               \
            "[bpf][matrix][c_heap]") {                                                                    \
    check_c_heap_cgo(build "/cmemserver");                                                                \
  }                                                                                                       \
  TEST_CASE(build ": threads held in C calls found at the middleware that started them",                 \
            "[bpf][matrix][threads]") {                                                                   \
    check_threads_cgo(build "/cgoserver");                                                                \
  }
MWS_GO_MATRIX_BUILDS(MWS_MATRIX_TESTS)

TEST_CASE("go1.27: beside Go's own leak detector, mwscope shows what it found and the long waits it cannot prove",
          "[bpf][matrix][goroutines]") {
  check_beside_go_leak_detector("go1.27/taskserver");
}
