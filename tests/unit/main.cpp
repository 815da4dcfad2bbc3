// Catch2's run, then the skip's exit status (tests/skip.h) when nothing
// failed and a test was skipped.
#define CATCH_CONFIG_RUNNER
#include "../skip.h"

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && mws::test::skip_requested()) return mws::test::kSkipReturnCode;
  return failed;
}
