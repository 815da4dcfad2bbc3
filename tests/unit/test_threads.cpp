// --threads without root: the Profile's threads section through JSON, the
// folded file and the text report; the syscall-stack walk on a stack laid
// out in this process's own memory.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/profile.h"
#include "profile_helpers.h"
#include "report/json.h"
#include "report/threads.h"
#include "target/go_threads.h"

using namespace mws;

namespace {

Frame fn(std::string name) { return Frame{std::move(name), "", 0, false}; }

// A cgo server's threads at the end: three groups, 9 live threads.
Profile threads_profile() {
  Profile p;
  p.meta.go_version = "go1.19.8";
  ThreadSummary& t = p.threads;
  t.recorded = true;
  t.live_at_start = 5;
  t.live_at_end = 9;
  t.created = 4;
  t.exited = 0;
  t.go_threads = 7;
  ThreadGroup cgo;
  cgo.holder = "cgo call";
  cgo.comm = "cgoserver";
  cgo.frame_ids = test::intern(p, {fn("runtime.cgocall"), fn("main._Cfunc_block_in_c"), fn("main.CBlock.func1.1"),
                                   fn("runtime.goexit")});
  cgo.creation_frame_ids = test::intern(p, {fn("main.CBlock.func1"), fn("net/http.HandlerFunc.ServeHTTP")});
  cgo.start_function = "main.CBlock.func1.1";
  cgo.middleware = "main.CBlock";
  cgo.count = 6;
  cgo.created_while_recording = 3;
  cgo.tids = {101, 102, 103, 104, 105, 106};
  ThreadGroup idle;
  idle.holder = "idle";
  idle.comm = "cgoserver";
  idle.count = 1;
  idle.tids = {100};
  ThreadGroup c;
  c.holder = "not a Go thread";
  c.comm = "cgo-cthread";
  c.state = "read, pipe_read";
  c.count = 2;
  c.created_while_recording = 1;
  c.tids = {200, 4294967295u};
  t.groups = {cgo, c, idle};
  CreatedThreadGroup made;
  made.comm = "cgoserver";
  made.created = 4;
  made.frame_ids = test::intern(p, {fn("[libc.so.6+0x1098d9]")});
  t.created_groups = {made};
  return p;
}

}  // namespace

TEST_CASE("threads: the section round-trips through JSON, thread ids and frames included", "[threads]") {
  Profile p = threads_profile();
  auto back = parse_profile_json(render_json(p));
  REQUIRE(back.ok());
  CHECK(back->threads == p.threads);
  CHECK(test::frames_of(*back, back->threads.groups[0].creation_frame_ids) ==
        test::frames_of(p, p.threads.groups[0].creation_frame_ids));

  nlohmann::json j = nlohmann::json::parse(render_json(p));
  j["threads"]["groups"][1]["tids"][0] = -1;
  auto bad = parse_profile_json(j.dump());
  REQUIRE(!bad.ok());
  CHECK(bad.error().message.find("threads.groups[1].tids[0]") != std::string::npos);

  // Without --threads the section is not written, and reads back as not recorded.
  Profile none;
  auto plain = parse_profile_json(render_json(none));
  REQUIRE(plain.ok());
  CHECK(!plain->threads.recorded);
  CHECK(render_json(none).find("\"threads\"") == std::string::npos);
}

TEST_CASE("threads: folded lines start at the holder and weigh the live threads", "[threads]") {
  Profile p = threads_profile();
  const std::string folded = render_threads_folded(p);
  CHECK(folded ==
        "[cgo call];net/http.HandlerFunc.ServeHTTP;main.CBlock.func1;runtime.goexit;main.CBlock.func1.1;"
        "main._Cfunc_block_in_c;runtime.cgocall 6\n"
        "[idle] 1\n"
        "[not a Go thread];[cgo-cthread];[read, pipe_read] 2\n");
  uint64_t total = 0;
  std::istringstream in(folded);
  for (std::string line; std::getline(in, line);) total += std::stoull(line.substr(line.rfind(' ') + 1));
  CHECK(total == p.threads.live_at_end);
  // Two groups that render alike are one line, their counts summed.
  p.threads.groups.push_back(p.threads.groups[1]);
  CHECK(render_threads_folded(p).find("[not a Go thread];[cgo-cthread];[read, pipe_read] 4\n") != std::string::npos);
}

TEST_CASE("threads: the text section names holders, middleware and what was created", "[threads]") {
  Profile p = threads_profile();
  const std::string text = render_threads_text(p, 10);
  CHECK(text.find("live at attach 5, at the end 9 (7 of them Go Ms); created while recording 4, exited 0") !=
        std::string::npos);
  CHECK(text.find("6        3  cgo call            main.CBlock") != std::string::npos);
  CHECK(text.find("goroutine main.CBlock.func1.1") != std::string::npos);
  CHECK(text.find("cgo-cthread: read, pipe_read") != std::string::npos);
  CHECK(text.find("tids: 101 102 103 104 105 106") != std::string::npos);
  CHECK(render_threads_text(Profile{}, 10).empty());
}

TEST_CASE("threads: a syscall stack starts from the frame size at syscallpc, then frame pointers", "[threads]") {
  // A goroutine stack laid out in this process's memory, as entersyscall
  // leaves it: sp points at cgocall's frame (32 bytes), whose saved frame
  // pointer and return address sit at sp + 24 and sp + 32; two more frames
  // above, linked by frame pointers.
  std::vector<uint64_t> stack(64, 0);
  const uint64_t lo = reinterpret_cast<uint64_t>(stack.data());
  const uint64_t hi = lo + stack.size() * 8;
  auto at = [&](size_t word) { return lo + word * 8; };
  const uint64_t sp = at(4);
  stack[4 + 3] = at(16);  // cgocall's saved BP: the caller's frame
  stack[4 + 4] = 0x4a0010;  // return into _Cfunc_block_in_c
  stack[16] = at(24);       // _Cfunc's frame: next BP, return address
  stack[17] = 0x4b0020;
  stack[24] = 0;            // the outermost frame: no caller
  stack[25] = 0x4c0030;
  auto frame_size = [](uint64_t pc) -> std::optional<int32_t> {
    if (pc == 0x401000) return 32;
    return std::nullopt;
  };
  target::RemoteMemory mem(getpid());
  CHECK(target::walk_syscall_stack(mem, 0x401000, sp, lo, hi, frame_size) ==
        std::vector<uint64_t>{0x401000, 0x4a0010, 0x4b0020, 0x4c0030});
  // Unknown frame size: the pc alone, never a guess.
  CHECK(target::walk_syscall_stack(mem, 0x402000, sp, lo, hi, frame_size) == std::vector<uint64_t>{0x402000});
  // An sp outside the goroutine's stack: nothing.
  CHECK(target::walk_syscall_stack(mem, 0x401000, hi + 64, lo, hi, frame_size).empty());
}
