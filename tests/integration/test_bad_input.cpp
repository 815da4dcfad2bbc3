// Bad input: one line on stderr that says what is wrong, a non-zero exit,
// and no BPF program of ours left loaded.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;

namespace {

size_t our_programs() {
  auto names = loaded_bpf_program_names();
  return std::count_if(names.begin(), names.end(),
                       [](const std::string& n) { return n.rfind("on_mallocgc", 0) == 0; });
}

void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  INFO("stderr: " << r.err << "stdout: " << r.out);
  CHECK(r.status != 0);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.rfind("mwscope: ", 0) == 0);
  CHECK(our_programs() == 0);
}

}  // namespace

TEST_CASE("a PID that does not exist", "[bpf][errors]") {
  int pid_max = 4194304;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  int pid = pid_max - 1;
  while (access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0) pid--;
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(pid), "-d", "1"}), "no process with PID");
}

TEST_CASE("a process that is not Go", "[bpf][errors]") {
  Child sleeper = Child::spawn({"sleep", "60"});
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(sleeper.pid()), "-d", "1"}),
                        "is not a Go program");
}

TEST_CASE("a stripped Go binary", "[bpf][errors]") {
  Server server = start_server("allocserver_stripped");
  expect_one_line_error(run({mwscope_binary(), "-p", std::to_string(server.child.pid()), "-d", "1"}),
                        "stripped Go binary");
  CHECK(server.child.running());
}

TEST_CASE("without the privileges to load BPF", "[bpf][errors]") {
  Server server = start_server("allocserver");
  // The same command as an unprivileged user (nobody).
  expect_one_line_error(run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", mwscope_binary(), "-p",
                             std::to_string(server.child.pid()), "-d", "1"}),
                        "not permitted");
  CHECK(server.child.running());
}

TEST_CASE("no PID at all", "[bpf][errors]") {
  expect_one_line_error(run({mwscope_binary()}), "-p PID");
}
