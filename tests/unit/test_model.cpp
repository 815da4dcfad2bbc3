// Aggregation and decoding on hand-made events (the BPF side's layout from
// bpf/events.h), without root.
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "bpf/events.h"
#include "collect/event_decoder.h"
#include "model/aggregator.h"
#include "model/sample_tracker.h"
#include "model/task_tracker.h"

using namespace mws;

namespace {

// Counts of one stack over all its types.
model::StackCounts counts(const model::Aggregator& agg, model::StackId id) {
  model::StackCounts total;
  agg.for_each([&](const model::AllocKey& k, const model::StackCounts& c) {
    if (k.stack != id) return;
    total.objects += c.objects;
    total.bytes += c.bytes;
  });
  return total;
}

}  // namespace

TEST_CASE("aggregator counts objects and bytes per distinct stack", "[model]") {
  model::Aggregator agg;
  const std::vector<uint64_t> a{0x10, 0x20, 0x30}, b{0x10, 0x20}, c{0x10, 0x20, 0x30};
  agg.add_alloc(a, 8);
  agg.add_alloc(b, 16);
  agg.add_alloc(c, 24);  // same as a
  REQUIRE(agg.stack_count() == 2);
  CHECK(agg.events() == 3);
  CHECK(counts(agg, 0).objects == 2);
  CHECK(counts(agg, 0).bytes == 32);
  CHECK(counts(agg, 1).objects == 1);
  CHECK(agg.stack(1) == b);
}

TEST_CASE("aggregator past its stack limit counts drops, never loses them silently", "[model]") {
  model::Aggregator agg(2);
  for (uint64_t i = 0; i < 5; i++) agg.add_alloc(std::vector<uint64_t>{i}, 1);
  agg.add_alloc(std::vector<uint64_t>{0}, 1);  // a known stack still counts
  CHECK(agg.stack_count() == 2);
  CHECK(agg.dropped() == 3);
  CHECK(agg.events() == 3);
}

TEST_CASE("aggregator: counts kept in the kernel join the stacks sent for their hash, or are dropped and counted",
          "[model]") {
  model::Aggregator agg;
  const std::vector<uint64_t> a{0x10, 0x20, 0x30}, b{0x10, 0x40};
  agg.add_hashed_stack(0xAAAA, a);
  agg.add_hashed_stack(0xAAAA, a);  // a second CPU sends it too
  agg.add_hashed_stack(0xBBBB, b);
  agg.add_alloc(a, 8, 0x77);        // the same stack as an event (map full): one key
  agg.add_hashed_counts(0xAAAA, 0x77, 10, 80);
  agg.add_hashed_counts(0xBBBB, 0x0, 3, 300);
  agg.add_hashed_counts(0xCCCC, 0x0, 4, 40);  // its stack never arrived
  CHECK(agg.stack_count() == 2);
  CHECK(agg.events() == 1 + 10 + 3);
  CHECK(agg.dropped() == 4);
  CHECK(agg.hash_collisions() == 0);
  uint64_t objects_a = 0, bytes_a = 0;
  agg.for_each([&](const model::AllocKey& k, const model::StackCounts& c) {
    if (agg.stack(k.stack) == a && k.word == 0x77) objects_a += c.objects, bytes_a += c.bytes;
  });
  CHECK(objects_a == 11);
  CHECK(bytes_a == 88);
  agg.add_hashed_stack(0xBBBB, a);  // one hash, another stack: counted, first kept
  CHECK(agg.hash_collisions() == 1);
}

namespace {

mws_alloc_event alloc_event(uint64_t size, uint64_t caller, std::vector<uint64_t> walked, uint32_t flags = 0) {
  mws_alloc_event e{};
  e.hdr.kind = MWS_EV_ALLOC;
  e.hdr.flags = flags;
  e.size = size;
  e.caller = caller;
  e.stack_len = static_cast<uint32_t>(walked.size());
  for (size_t i = 0; i < walked.size(); i++) e.stack[i] = walked[i];
  return e;
}

}  // namespace

TEST_CASE("decoder splices the caller read at [SP] in place of the probed instruction", "[model]") {
  model::Aggregator agg;
  model::TaskTracker tasks;
  model::SampleTracker samples;
  model::RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  // stack[0] is the probe's own address inside mallocgc; the caller is at [SP].
  auto e = alloc_event(48, 0xCA11, {0x40e184, 0x5000, 0x6000});
  dec.decode(&e, sizeof(e));
  REQUIRE(agg.stack_count() == 1);
  CHECK(agg.stack(0) == std::vector<uint64_t>{0xCA11, 0x5000, 0x6000});
  CHECK(counts(agg, 0).bytes == 48);

  auto no_caller = alloc_event(8, 0, {0x40e184, 0x5000}, MWS_FLAG_NO_CALLER);
  dec.decode(&no_caller, sizeof(no_caller));
  CHECK(agg.stack(1) == std::vector<uint64_t>{0x5000});
  CHECK(dec.stats().missing_caller == 1);

  auto truncated = alloc_event(8, 1, std::vector<uint64_t>(MWS_MAX_STACK_DEPTH, 7), MWS_FLAG_STACK_TRUNCATED);
  dec.decode(&truncated, sizeof(truncated));
  CHECK(dec.stats().truncated_stacks == 1);

  // A stack sent for an in-kernel count key (exact mode) is spliced alike.
  auto sent = alloc_event(0, 0xCA11, {0x40e184, 0x600, 0x700});
  sent.hdr.kind = MWS_EV_ALLOC_STACK;
  sent.object = 0x1234;  // the stack hash
  dec.decode(&sent, sizeof(sent));
  agg.add_hashed_counts(0x1234, 0, 5, 50);
  REQUIRE(agg.stack_count() == 4);
  CHECK(agg.stack(3) == std::vector<uint64_t>{0xCA11, 0x600, 0x700});
  CHECK(agg.events() == 3 + 5);
}

TEST_CASE("decoder reads a record's frames up to its length: BPF sends only the used part of stack[]", "[model]") {
  model::Aggregator agg;
  model::TaskTracker tasks;
  model::SampleTracker samples;
  model::RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  auto e = alloc_event(48, 0xCA11, {0x40e184, 0x5000, 0x6000});
  dec.decode(&e, offsetof(mws_alloc_event, stack) + 3 * sizeof(uint64_t));  // as send_used sends it
  REQUIRE(agg.stack_count() == 1);
  CHECK(agg.stack(0) == std::vector<uint64_t>{0xCA11, 0x5000, 0x6000});
  // A record shorter than its stack_len says: only the frames it holds.
  auto cut = alloc_event(48, 0xCA11, {0x40e184, 0x5000, 0x6000, 0x7000});
  dec.decode(&cut, offsetof(mws_alloc_event, stack) + 2 * sizeof(uint64_t));
  REQUIRE(agg.stack_count() == 2);
  CHECK(agg.stack(1) == std::vector<uint64_t>{0xCA11, 0x5000});
  CHECK(dec.stats().malformed == 0);
}

TEST_CASE("decoder rejects short and unknown records and counts them", "[model]") {
  model::Aggregator agg;
  model::TaskTracker tasks;
  model::SampleTracker samples;
  model::RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  auto e = alloc_event(8, 1, {2});
  dec.decode(&e, sizeof(mws_event_header));  // too short for an alloc event
  mws_event_header unknown{};
  unknown.kind = 99;
  dec.decode(&unknown, sizeof(unknown));
  dec.decode(&unknown, 3);
  CHECK(dec.stats().malformed == 3);
  CHECK(agg.events() == 0);
}

TEST_CASE("task tracker: creation stacks cut at the go statement, exits matched by g", "[model]") {
  model::TaskTracker t;
  t.register_preexisting(1, 0xb001);
  const uint64_t gopc = 0x4a0010;
  // As captured at newproc1's RET: newproc.func1, systemstack, then the go statement.
  const std::vector<uint64_t> captured{0x443001, 0x460002, gopc, 0x4b0000};
  for (uint64_t goid = 10; goid < 15; goid++) t.on_spawn(goid, 0xc000 + goid, 0x4a1000, gopc, 1000, captured);
  t.on_spawn(20, 0xd000, 0x4a2000, gopc, 1000, captured);  // other start function: other group
  REQUIRE(t.groups().size() == 2);
  CHECK(t.stacks().pcs(t.groups()[0].creation_stack) == std::vector<uint64_t>{gopc, 0x4b0000});
  t.on_exit(0xc000 + 10, 2000);
  t.on_exit(0xc000 + 11, 2000);
  t.on_exit(0xb001, 2000);  // existed before attach
  t.on_exit(0xf999, 2000);  // never seen
  CHECK(t.spawned() == 6);
  CHECK(t.ended() == 2);
  CHECK(t.live().size() == 4);
  CHECK(t.groups()[0].spawned == 5);
  CHECK(t.groups()[0].ended == 2);
  CHECK(t.preexisting_ended() == 1);
  CHECK(t.unknown_exits() == 1);
}

TEST_CASE("task tracker: a g reused ends the goroutine it held, and a goroutine registered twice is not two", "[model]") {
  model::TaskTracker t;
  const std::vector<uint64_t> stack{0x443001, 0x4a0010};
  t.register_preexisting(1, 0xa000);  // alive at attach
  t.register_preexisting(7, 0xb000);  // created after the probes went live, then read from allgs too
  t.on_spawn(7, 0xb000, 0x4a1000, 0x4a0010, 1000, stack);
  CHECK(t.preexisting_alive() == 1);
  CHECK(t.preexisting_ended() == 0);
  // goid 1's exit was lost (a full ring): a new goroutine on its g shows it ended.
  t.on_spawn(8, 0xa000, 0x4a1000, 0x4a0010, 1000, stack);
  CHECK(t.preexisting_alive() == 0);
  CHECK(t.preexisting_ended() == 1);
  // The same for a goroutine spawned while recording.
  t.on_spawn(9, 0xa000, 0x4a1000, 0x4a0010, 1000, stack);
  CHECK(t.ended() == 1);
  CHECK(t.live().count(8) == 0);
  CHECK(t.live().count(9) == 1);
  t.on_exit(0xa000, 2000);
  t.on_exit(0xa000, 2000);  // nothing left on that g
  CHECK(t.ended() == 2);
  CHECK(t.unknown_exits() == 1);
  CHECK(t.live().size() == 1);  // goid 7
}

TEST_CASE("task tracker: a batched exit that arrives after its g was reused ends only the goroutine it names", "[model]") {
  model::TaskTracker t;
  const std::vector<uint64_t> stack{0x443001, 0x4a0010};
  t.on_spawn(1, 0xa000, 0x4a1000, 0x4a0010, 100, stack);
  // goid 1 ended at 150 on one CPU; goid 2 started on its g at 200 on another,
  // whose events came first.
  t.on_spawn(2, 0xa000, 0x4a1000, 0x4a0010, 200, stack);
  CHECK(t.ended() == 1);  // goid 1, ended when goid 2 took its g
  t.on_exit(0xa000, 150);  // goid 1's own exit: already counted
  CHECK(t.ended() == 1);
  CHECK(t.live().count(2) == 1);
  CHECK(t.unknown_exits() == 0);
  // goid 2 ends and goid 3 starts on the g; goid 2's exit arrives last again.
  t.on_spawn(3, 0xa000, 0x4a1000, 0x4a0010, 400, stack);
  t.on_exit(0xa000, 500);  // goid 3's exit, from a batch sent first
  t.on_exit(0xa000, 300);  // goid 2's
  CHECK(t.ended() == 3);
  CHECK(t.live().empty());
  CHECK(t.unknown_exits() == 0);
  CHECK(t.groups()[0].spawned == 3);
  CHECK(t.groups()[0].ended == 3);
}

TEST_CASE("task tracker decodes spawn and exit events", "[model]") {
  model::Aggregator agg;
  model::TaskTracker tasks;
  model::SampleTracker samples;
  model::RouteTracker routes;
  collect::EventDecoder dec(agg, samples, tasks, routes);
  mws_task_spawn_event s{};
  s.hdr.kind = MWS_EV_TASK_SPAWN;
  s.goid = 42;
  s.g_addr = 0xc042;
  s.gopc = 0x3000;
  s.caller = 0x1000;
  s.stack_len = 3;
  s.stack[0] = 0x999;  // the RET itself
  s.stack[1] = 0x3000;
  s.stack[2] = 0x4000;
  dec.decode(&s, sizeof(s));
  mws_task_exits_event x{};
  x.hdr.kind = MWS_EV_TASK_EXITS;
  x.batch.count = 1;
  x.batch.exit[0] = {0xc042, 1};
  REQUIRE(tasks.live().size() == 1);
  CHECK(tasks.stacks().pcs(0) == std::vector<uint64_t>{0x3000, 0x4000});
  dec.decode(&x, sizeof(x));
  CHECK(tasks.live().empty());
  CHECK(tasks.ended() == 1);
}

