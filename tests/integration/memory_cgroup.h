// A memory cgroup of its own for a test: the OOM killer's victims
// (test_oom_watch.cpp, test_serve.cpp).
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace mws::test {

// A memory cgroup of its own with a limit (20 MiB unless told) and no swap: v2
// (memory.max) when the unified hierarchy has the memory controller, else
// v1 (memory.limit_in_bytes). Removed on destruction, once empty.
struct MemoryCgroup {
  std::string dir, error;

  explicit MemoryCgroup(const std::string& limit = "20M", const std::string& tag = "oom") {
    namespace fs = std::filesystem;
    const std::string name = "mwscope-" + tag + "-test-" + std::to_string(getpid());
    std::string controllers;
    std::getline(std::ifstream("/sys/fs/cgroup/cgroup.controllers"), controllers);
    if (controllers.find("memory") != std::string::npos) {
      dir = "/sys/fs/cgroup/" + name;
      if (!make()) return;
      set("memory.max", limit);
      if (fs::exists(dir + "/memory.swap.max")) set("memory.swap.max", "0");
    } else if (fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
      dir = "/sys/fs/cgroup/memory/" + name;
      if (!make()) return;
      set("memory.limit_in_bytes", limit);
      if (fs::exists(dir + "/memory.memsw.limit_in_bytes")) set("memory.memsw.limit_in_bytes", limit);
      set("memory.oom_control", "0");  // the OOM killer on (a v1 cgroup may disable it)
    } else {
      error = "no memory cgroup controller (neither v2 memory.max nor v1 memory.limit_in_bytes)";
    }
  }
  ~MemoryCgroup() {
    if (dir.empty() || !error.empty()) return;
    // Empty once its process is reaped; the kernel may take a moment.
    for (int i = 0; i < 100 && rmdir(dir.c_str()) != 0; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool make() {
    namespace fs = std::filesystem;
    std::error_code ec;
    rmdir(dir.c_str());  // left by a run that was killed
    if (!fs::create_directory(dir, ec)) {
      error = "cannot create " + dir + ": " + ec.message();
      return false;
    }
    return true;
  }
  void set(const std::string& file, const std::string& value) {
    std::ofstream out(dir + "/" + file);
    out << value << "\n";
    out.flush();
    if (!out && error.empty()) error = "cannot write " + value + " to " + dir + "/" + file;
  }
};

}  // namespace mws::test
