// The Go fixture builds the unit tests read: the machine's Go ("", under
// the fixtures' plain names) and, with the toolchain matrix, each Debian
// toolchain's build under "go1.X/".
#pragma once

#include <string>
#include <vector>

namespace mws::test {

inline std::vector<std::string> fixture_builds() {
  std::vector<std::string> builds = {""};
#ifdef MWS_GO_MATRIX
  for (const char* b : {"go1.21/", "go1.22/", "go1.23/", "go1.24/", "go1.25/", "go1.26/", "go1.27/"}) builds.push_back(b);
#endif
  return builds;
}

}  // namespace mws::test
