// build_task_summary: the goroutines a recording saw start and end, counted
// and grouped, and the leak verdict per group, on a TaskTracker fed by
// hand. Addresses fall in one anonymous mapping, so each symbolizes to a
// name of its own ("[anon+0x110]") without any binary to read.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "interpret/profile_stacks.h"
#include "model/task_tracker.h"
#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/elf_file.h"
#include "target/process.h"
#include "symtarget_stacks.h"

using namespace mws;

namespace {

constexpr uint64_t kBase = 0x7f0000000000;  // the anonymous mapping
constexpr uint64_t kSecond = 1'000'000'000;

// Two creation sites (a go statement's return address over one caller)
// and two start functions: group A is (site A, start A), B is (site B, start B).
constexpr uint64_t kStartA = kBase + 0x100, kStartB = kBase + 0x200;
constexpr uint64_t kGoA = kBase + 0x1010, kGoB = kBase + 0x2010, kCaller = kBase + 0x3010;
const std::vector<uint64_t> kStackA{kBase + 0x50, kGoA, kCaller};  // newproc1's frame first, cut at gopc
const std::vector<uint64_t> kStackB{kBase + 0x50, kGoB, kCaller};

struct Fixture : test::SymtargetStacks {
  Fixture() : SymtargetStacks(kBase) {}
};

const TaskGroup* group_started_at(const TaskSummary& s, const std::string& start) {
  for (const auto& g : s.groups)
    if (g.start_function == start) return &g;
  return nullptr;
}

// Group A: goroutines 1-3 at t = 0 (3 ended at 5 s); group B: 4 and 5 at
// t = 50 s. The recording ends at t = 60 s after 60 s.
model::TaskTracker three_and_two() {
  model::TaskTracker t;
  for (uint64_t goid : {1, 2, 3}) t.on_spawn(goid, 0xc000000000 + goid * 0x100, kStartA, kGoA, 0, kStackA);
  for (uint64_t goid : {4, 5}) t.on_spawn(goid, 0xc000000000 + goid * 0x100, kStartB, kGoB, 50 * kSecond, kStackB);
  t.on_exit(0xc000000000 + 3 * 0x100, 5 * kSecond);
  return t;
}

}  // namespace

TEST_CASE("task summary: counts and groups as spawned and ended, and age alone decides without a reading",
          "[interpret][tasks]") {
  Fixture f;
  const model::TaskTracker tasks = three_and_two();
  interpret::TaskSummaryInputs in;
  in.now_ns = 60 * kSecond;
  in.duration_s = 60;
  in.leak_age_s = 30;
  TaskSummary s;
  interpret::build_task_summary(tasks, *f.stacks, in, s);

  CHECK(s.spawned == 5);
  CHECK(s.ended == 1);
  CHECK(s.live_at_end == 4);
  CHECK(s.leak_age_s == 30);
  // Without the goroutines' reading, age decides: A's two live ones are
  // 60 s old (leaked), B's 10 s (not: precision as well as recall).
  CHECK(s.leaked == 2);
  REQUIRE(s.groups.size() == 2);
  const std::string start_a = f.process->symbolize_return_address(kStartA + 1).back().function;
  const std::string start_b = f.process->symbolize_return_address(kStartB + 1).back().function;
  REQUIRE(start_a != start_b);
  CHECK(s.groups[0].start_function == start_a);  // most leaked first
  const TaskGroup* a = group_started_at(s, start_a);
  const TaskGroup* b = group_started_at(s, start_b);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->spawned == 3);
  CHECK(a->ended == 1);
  CHECK(a->live == 2);
  CHECK(a->leaked == 2);
  CHECK(a->oldest_age_s == Approx(60));
  CHECK(a->growth_per_min == Approx(2));  // (3 - 1) over one minute
  CHECK(b->spawned == 2);
  CHECK(b->ended == 0);
  CHECK(b->live == 2);
  CHECK(b->leaked == 0);
  CHECK(b->oldest_age_s == Approx(10));
  CHECK(b->growth_per_min == Approx(2));
  // The creation stack starts at the go statement (newproc1's frame cut).
  REQUIRE(a->creation_frame_ids.size() == 2);
  CHECK(f.stacks->frame(a->creation_frame_ids[0]).function ==
        f.process->symbolize_return_address(kGoA).front().function);
  CHECK(a->states.empty());  // no reading: no states
}

TEST_CASE("task summary: with the reading, the evidence decides, not the age, and states per group, most first",
          "[interpret][tasks]") {
  Fixture f;
  const model::TaskTracker tasks = three_and_two();
  // Goroutine 1: old and blocked long, but started at start-up (not from a
  // request): not leaked. Goroutine 2: unreachable: leaked. Goroutine 4:
  // young, but Go's own detector says so: leaked. Goroutine 5: blocked long
  // and from a request: leaked.
  std::unordered_map<uint64_t, GoroutineEvidence> evidence;
  evidence[1].blocked_long = true;
  evidence[2].unreachable = true;
  evidence[4].go_says = true;
  evidence[5].blocked_long = true;
  evidence[5].from_request = true;
  std::unordered_map<uint64_t, std::string> states{{0xc000000000 + 1 * 0x100, "select"},
                                                   {0xc000000000 + 2 * 0x100, "chan receive"},
                                                   {0xc000000000 + 4 * 0x100, "chan receive"},
                                                   {0xc000000000 + 5 * 0x100, "chan receive"}};
  interpret::TaskSummaryInputs in;
  in.now_ns = 60 * kSecond;
  in.duration_s = 60;
  in.leak_age_s = 30;
  in.evidence = &evidence;
  in.live_states = &states;
  TaskSummary s;
  interpret::build_task_summary(tasks, *f.stacks, in, s);

  CHECK(s.leaked == 3);
  const std::string start_a = f.process->symbolize_return_address(kStartA + 1).back().function;
  const std::string start_b = f.process->symbolize_return_address(kStartB + 1).back().function;
  const TaskGroup* a = group_started_at(s, start_a);
  const TaskGroup* b = group_started_at(s, start_b);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->leaked == 1);
  CHECK(b->leaked == 2);
  CHECK(s.groups[0].start_function == start_b);  // most leaked first
  using States = std::vector<std::pair<std::string, uint64_t>>;
  CHECK(a->states == States{{"chan receive", 1}, {"select", 1}});  // a tie: by name
  CHECK(b->states == States{{"chan receive", 2}});

  // A goroutine with no evidence at all (unreadable) is not leaked, however old.
  evidence.erase(2);
  TaskSummary again;
  interpret::build_task_summary(tasks, *f.stacks, in, again);
  CHECK(again.leaked == 2);
  CHECK(group_started_at(again, start_a)->leaked == 0);
}
