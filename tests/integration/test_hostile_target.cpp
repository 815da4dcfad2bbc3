// A hostile target cannot harm the host (issue 26), against live targets:
// what the unit tests ([hostile]) check on fake images, end to end.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "harness.h"

using namespace mws::test;
using namespace std::chrono;

TEST_CASE("an executable named with escape sequences cannot drive the terminal", "[bpf][hostile]") {
  // The name retitles the terminal (OSC 0 ... BEL) and clears it (CSI 2J).
  const std::filesystem::path dir = temp_path("escape-dir");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path exe = dir / "srv\x1b]0;pwned\x07\x1b[2J\xc2\x9b" "31m";
  std::filesystem::copy_file(fixture("allocserver"), exe);
  std::filesystem::permissions(exe, std::filesystem::perms::owner_all);
  Child target = Child::spawn({exe.string()});
  REQUIRE(target.wait_stdout_line("listening", seconds(20)));
  const std::string json_path = temp_path("escape.json");
  const auto r = run({mwscope_binary(), "-p", std::to_string(target.pid()), "-d", "1", "--json", json_path},
                     seconds(20));
  INFO("stderr: " << r.err);
  CHECK(r.status == 0);
  for (const std::string* text : {&r.out, &r.err}) {
    CHECK(text->find('\x1b') == std::string::npos);
    CHECK(text->find('\x07') == std::string::npos);
    CHECK(text->find("\xc2\x9b") == std::string::npos);
  }
  CHECK(r.err.find("srv\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31m") != std::string::npos);  // named, escaped
  // JSON keeps the name as it is (its format escapes control characters).
  const auto profile = read_profile_json(json_path);
  CHECK(profile.at("meta").at("executable").get<std::string>() == exe.string());
  std::filesystem::remove_all(dir);
  std::filesystem::remove(json_path);
}
