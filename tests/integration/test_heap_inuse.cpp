// The heap in use, whole, in the default mode: read from the runtime's own
// profile at attach and at the end, so what grew before mwscope attached
// shows at once. The truth is the runtime's MemProfile (the fixture's
// /debug/allocs, at MemProfileRate 1 every object), taken after two GCs.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct Ours {
  int64_t inuse_objects = 0, inuse_bytes = 0, change_objects = 0, change_bytes = 0, bytes = 0;
};

// Our in-use per innermost main.* frame, as the truth keys it.
std::map<std::string, Ours> our_inuse(const json& profile) {
  std::map<std::string, Ours> out;
  for (const auto& s : profile.at("stacks")) {
    const std::string fn = innermost_main(s);
    if (fn.empty()) continue;
    Ours& o = out[fn];
    o.inuse_objects += s.at("inuse_samples").get<int64_t>();
    o.inuse_bytes += s.at("inuse_sample_bytes").get<int64_t>();
    o.change_objects += s.at("inuse_change_objects").get<int64_t>();
    o.change_bytes += s.at("inuse_change_bytes").get<int64_t>();
    o.bytes += s.at("bytes").get<int64_t>();
  }
  return out;
}

}  // namespace

void mws::test::check_heap_inuse(const std::string& allocserver) {
  Server server = start_server(allocserver, {"-memprofilerate", "1"});
  const std::string port = std::to_string(server.port);
  // Heap kept before anyone looked, published by the truth's GCs.
  send_load(server.port, "/retain", 500);
  const auto at_attach = runtime_allocs(server.port, 1);
  REQUIRE(at_attach.at("main.retainHandler").inuse_objects() >= 500);

  // A steady server: /work allocates and lets go of everything, all along.
  Child steady = Child::spawn({fixture("loadgen"), "-url", "http://127.0.0.1:" + port + "/work", "-n", "100000000",
                               "-c", "4"});
  const std::string json_path = temp_path("heap.json"), folded_path = temp_path("heap.folded");
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(server.child.pid()), "--json", json_path,
                           "--weight", "inuse-bytes", "--folded", folded_path});
  INFO(mw.stderr_text());
  REQUIRE(mw.wait_stderr_line("recording", seconds(30)));
  std::this_thread::sleep_for(seconds(1));
  send_load(server.port, "/retain", 300);  // kept while recording
  // Enough /work traffic for "no change" to mean something (~10 MiB, about
  // 4,000 requests of ~2.3 KB), however slow the machine is today: the load
  // is steady, the wait is until it has done that much.
  auto work_requests = [&] {
    return json::parse(http_get(server.port, "/debug/allocs").value_or("{}")).value("work_requests", int64_t(0));
  };
  const int64_t work_at_start = work_requests();
  const auto deadline = steady_clock::now() + seconds(60);
  do std::this_thread::sleep_for(seconds(1));
  while (work_requests() - work_at_start < 5000 && steady_clock::now() < deadline);
  const auto at_end = runtime_allocs(server.port, 1);  // nothing is retained after it
  mw.signal(SIGINT);
  REQUIRE(mw.wait(seconds(60)) == 0);
  steady.signal(SIGTERM);
  steady.wait(seconds(10));
  REQUIRE(server.child.running());

  const json profile = read_profile_json(json_path);
  const json& meta = profile.at("meta");
  INFO(meta.dump());
  REQUIRE(meta.at("mode") == "sampled");  // the default mode
  REQUIRE(meta.at("heap_read") == true);
  CHECK(meta.at("heap_profile_rate") == 1);
  CHECK(meta.at("heap_unreadable_buckets") == 0);
  CHECK(meta.at("gc_cycles").get<uint64_t>() >= 2);  // the truth's two at least
  auto ours = our_inuse(profile);

  // The heap held before attach and added since, per function, equals the
  // runtime's own; the change is what the runtime's two readings differ by.
  const std::string hoarder = "main.retainHandler";
  const int64_t before_objects = at_attach.at(hoarder).inuse_objects(), before_bytes = at_attach.at(hoarder).inuse_bytes();
  const int64_t after_objects = at_end.at(hoarder).inuse_objects(), after_bytes = at_end.at(hoarder).inuse_bytes();
  const Ours& o = ours[hoarder];
  INFO(hoarder << ": runtime in use " << before_objects << " -> " << after_objects << " objects; mwscope "
               << o.inuse_objects << " objects, change " << o.change_objects);
  CHECK(o.inuse_objects == after_objects);
  CHECK(o.inuse_bytes == after_bytes);
  CHECK(o.change_objects == after_objects - before_objects);
  CHECK(o.change_bytes == after_bytes - before_bytes);

  // A steady server shows no change: what /work allocated it let go of, so
  // each /work function's in-use moved by a sliver of what it allocated.
  const json construction = json::parse(*http_get(server.port, "/debug/construction")).at("functions");
  int64_t allocated = 0, change = 0;
  for (auto& [fn, c] : construction.items()) {
    if (c.at("routes")[0] != "/work") continue;
    allocated += ours[fn].bytes;
    change += ours[fn].change_bytes;
  }
  INFO("/work functions: " << allocated << " bytes allocated while recording, in use changed by " << change);
  REQUIRE(allocated > 10 * 1024 * 1024);
  CHECK(std::llabs(change) <= allocated / 20);

  // --weight inuse-bytes weighs the whole heap at the end: the hoarder's
  // lines add up to all it holds, the before-attach part included.
  int64_t folded = 0;
  std::istringstream lines(read_file(folded_path));
  for (std::string line; std::getline(lines, line);) {
    const size_t sp = line.rfind(' ');
    if (line.find(hoarder) != std::string::npos) folded += std::stoll(line.substr(sp + 1));
  }
  CHECK(folded == after_bytes);
}

TEST_CASE("the heap in use, whole: what grew before attach equals the runtime's, and a steady server shows no change",
          "[bpf][heap]") {
  check_heap_inuse("allocserver");
}
