// `go tool objdump` of one function of a binary: what the Go toolchain says
// the code is, against which the unit tests check Capstone-found sites.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

namespace mws::test {

inline std::string objdump(const std::string& binary, const std::string& func) {
  std::string cmd = "go tool objdump -s '^" + func + "$' " + binary + " 2>/dev/null";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  REQUIRE(!out.empty());
  return out;
}

}  // namespace mws::test
