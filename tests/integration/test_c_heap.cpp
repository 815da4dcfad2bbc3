// The C heap (--c-heap) against what fixtures do by construction: cmemserver's
// cgo middleware (C memory charged to the Go middleware that called C), and
// cleak, a plain C process (C stacks through frame pointers). Every expected
// figure is what the fixture says it did.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "harness.h"
#include "truth_checks.h"

using namespace mws::test;
using namespace std::chrono;
using nlohmann::json;

namespace {

Child start_c_heap_recording(pid_t pid, const std::string& name, const std::string& folded_weight) {
  Child mw = Child::spawn({mwscope_binary(), "-p", std::to_string(pid), "--c-heap", "--json", temp_path(name + ".json"),
                           "--folded", temp_path(name + ".folded"), "--weight", folded_weight});
  auto attached = mw.wait_stderr_line("attached", seconds(30));
  INFO(mw.stderr_text());
  REQUIRE(attached);
  REQUIRE(attached->find("C heap") != std::string::npos);
  return mw;
}

json stop(Child& mw, const std::string& name) {
  mw.signal(SIGINT);
  INFO(mw.stderr_text());
  REQUIRE(mw.wait(seconds(60)) == 0);
  return read_profile_json(temp_path(name + ".json"));
}

const json* row(const json& c_heap, const std::string& middleware) {
  for (const json& r : c_heap.at("middleware"))
    if (r.at("name") == middleware) return &r;
  return nullptr;
}

// Sum of the folded lines whose stack holds `frame`.
uint64_t folded_weight_through(const std::string& path, const std::string& frame) {
  std::istringstream in(read_file(path));
  uint64_t sum = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.rfind(' ');
    const std::string stack = ";" + line.substr(0, space) + ";";
    if (stack.find(";" + frame + ";") != std::string::npos) sum += std::stoull(line.substr(space + 1));
  }
  return sum;
}

// The function that called the allocator: the frame after the allocator's own.
std::string c_caller(const json& stack) {
  const json& frames = stack.at("frames");
  return frames.size() > 1 ? frames[1].at("function").get<std::string>() : "";
}

}  // namespace

void mws::test::check_c_heap_cgo(const std::string& cmemserver) {
  Server server = start_server(cmemserver);
  const int before_attach = 20, during = 60;
  for (int i = 0; i < before_attach; i++) REQUIRE(http_get(server.port, "/work"));
  Child mw = start_c_heap_recording(server.child.pid(), "c_heap_cgo", "c-inuse-bytes");
  // Frees what was allocated before attach: counted apart, charged to no stack.
  REQUIRE(http_get(server.port, "/release").value_or("") == "released " + std::to_string(before_attach) + "\n");
  auto start = json::parse(*http_get(server.port, "/debug/c"));
  for (int i = 0; i < during; i++) REQUIRE(http_get(server.port, "/work"));
  auto end = json::parse(*http_get(server.port, "/debug/c"));
  json profile = stop(mw, "c_heap_cgo");
  REQUIRE(server.child.running());

  const int64_t requests = end.at("requests").get<int64_t>() - start.at("requests").get<int64_t>();
  const int64_t kept = end.at("leaked_blocks").get<int64_t>() - start.at("leaked_blocks").get<int64_t>();
  REQUIRE(requests == during);
  REQUIRE(kept == during);
  const json& c = profile.at("c_heap");
  INFO(c.dump(1).substr(0, 6000));
  REQUIRE(c.at("recorded") == true);
  CHECK(c.at("go_stacks_unavailable") == "");
  CHECK(c.at("dropped") == 0);

  // Each middleware: exactly its own C calls, per request.
  const json* leak = row(c, "main.CLeak");
  REQUIRE(leak);
  CHECK(leak->at("allocs") == kept);
  CHECK(leak->at("bytes") == kept * end.at("leak_bytes").get<int64_t>());
  CHECK(leak->at("inuse_objects") == kept);
  CHECK(leak->at("inuse_bytes") == kept * end.at("leak_bytes").get<int64_t>());
  const json* scratch = row(c, "main.CScratch");
  REQUIRE(scratch);
  CHECK(scratch->at("allocs") == requests);
  CHECK(scratch->at("bytes") == requests * end.at("scratch_bytes").get<int64_t>());
  CHECK(scratch->at("inuse_objects") == 0);
  const json* handler = row(c, "main.workHandler");
  REQUIRE(handler);
  CHECK(handler->at("allocs") == requests);
  CHECK(handler->at("bytes") == requests * end.at("cstring_bytes").get<int64_t>());
  CHECK(handler->at("inuse_objects") == 0);

  // The blocks allocated before attach were freed while recording: counted
  // apart (glibc's chunk of each is at least the block), never charged.
  CHECK(c.at("frees_before_attach").get<int64_t>() >= before_attach);
  CHECK(c.at("chunk_bytes_freed_before_attach").get<int64_t>() >=
        before_attach * end.at("leak_bytes").get<int64_t>());
  for (const json& s : c.at("stacks")) CHECK(s.at("frees") <= s.at("allocs"));

  // The leak's stack: C caller, then the Go stack through runtime.cgocall.
  bool found = false;
  for (const json& s : c.at("stacks")) {
    if (c_caller(s) != "leak_block") continue;
    found = true;
    std::set<std::string> functions;
    for (const json& f : s.at("frames")) functions.insert(f.at("function").get<std::string>());
    CHECK(functions.count("runtime.cgocall") == 1);
    // Go 1.21+ names the closure after inlining CLeak into main (main.main.CLeak.func3).
    CHECK(std::any_of(functions.begin(), functions.end(),
                      [](const std::string& f) { return f.find("CLeak.func") != std::string::npos; }));
    CHECK(s.at("frames")[0].at("function") == "malloc");
  }
  CHECK(found);
  // Flame-graph input weighted by C bytes in use: the leak, all of it.
  CHECK(folded_weight_through(temp_path("c_heap_cgo.folded"), "leak_block") ==
        uint64_t(kept * end.at("leak_bytes").get<int64_t>()));
  CHECK(folded_weight_through(temp_path("c_heap_cgo.folded"), "scratch_block") == 0);
}

TEST_CASE("C heap of cgo middleware equals what they kept and freed, charged to the Go middleware", "[bpf][c_heap]") {
  check_c_heap_cgo("cmemserver");
}

TEST_CASE("C heap of a plain C process equals its construction per function", "[bpf][c_heap]") {
  Child target = Child::spawn({fixture("cleak")}, SpawnOptions{.stdin_pipe = true});
  REQUIRE(target.wait_stdout_line("ready", seconds(10)));
  Child mw = start_c_heap_recording(target.pid(), "c_heap_native", "c-bytes");
  REQUIRE(target.write_stdin("round\n"));
  auto line = target.wait_stdout_line("leak_small", seconds(10));
  REQUIRE(line);
  const json construction = json::parse(*line);
  REQUIRE(target.write_stdin("free-pre\n"));
  REQUIRE(target.wait_stdout_line("freed", seconds(10)));
  json profile = stop(mw, "c_heap_native");

  const json& c = profile.at("c_heap");
  INFO(c.dump(1).substr(0, 6000));
  CHECK(profile.at("meta").at("go_version") == "");
  CHECK(c.at("dropped") == 0);
  CHECK(c.at("unmatched_returns") == 0);
  // Per allocating function (the allocator's caller), summed over its stacks.
  std::map<std::string, json> got;
  for (const json& s : c.at("stacks")) {
    json& g = got[c_caller(s)];
    if (g.is_null()) g = json::object();
    for (const char* k : {"allocs", "bytes", "inuse_objects", "inuse_bytes"})
      g[k] = g.value(k, int64_t(0)) + s.at(k).get<int64_t>();
  }
  for (const auto& [function, want] : construction.items()) {
    INFO(function);
    REQUIRE(got.count(function));
    for (const char* k : {"allocs", "bytes", "inuse_objects", "inuse_bytes"}) {
      INFO(k);
      CHECK(got[function].at(k) == want.at(k));
    }
  }
  // The 20 blocks allocated at start, freed while recording: apart.
  CHECK(c.at("frees_before_attach").get<int64_t>() >= 20);
  CHECK(folded_weight_through(temp_path("c_heap_native.folded"), "leak_big") ==
        construction.at("leak_big").at("bytes").get<uint64_t>());
  target.close_stdin();
  target.wait(seconds(10));
}

// heaptrack_print's leak lines: "50.00K leaked over 10 calls from" then the
// function. Sizes are decimal (K = 1000).
std::map<std::string, double> heaptrack_leaks(const std::string& report) {
  std::map<std::string, double> out;
  std::istringstream in(report);
  for (std::string line, function; std::getline(in, line);) {
    const size_t at = line.find(" leaked over ");
    if (at == std::string::npos || line.find("calls from") == std::string::npos || line.back() == ':') continue;
    if (!std::getline(in, function)) break;
    double v = std::stod(line.substr(0, at));
    const char unit = line[at - 1];
    v *= unit == 'K' ? 1e3 : unit == 'M' ? 1e6 : unit == 'G' ? 1e9 : 1;
    out[function] += v;
  }
  return out;
}

TEST_CASE("heaptrack alone finds the leaks cleak's construction says (the reference tool, not compared with mwscope)",
          "[bpf][c_heap]") {
  // heaptrack runs the program from its start (LD_PRELOAD), mwscope attaches
  // to a running one: each is held to the construction, never to the other
  // (mwscope: "C heap of a plain C process equals its construction per
  // function" above). heaptrack also sees the two stdio buffers libc
  // allocates at start, which mwscope, attached later, never sees.
  const std::string dir = temp_path("heaptrack");
  run({"rm", "-rf", dir});
  run({"mkdir", "-p", dir});
  auto r = run({"sh", "-c",
                "cd " + dir + " && (echo round; echo free-pre) | heaptrack -o " + dir + "/cleak " + fixture("cleak") +
                    " > run.out 2>&1 && heaptrack_print -f " + dir +
                    "/cleak.zst --print-leaks 1 --print-peaks 0 --print-allocators 0 --print-temporary 0"},
               seconds(120));
  INFO(r.out.substr(0, 3000) << r.err);
  REQUIRE(r.status == 0);
  const std::string run_out = read_file(dir + "/run.out");
  const size_t json_at = run_out.find("{\"leak_small\"");
  REQUIRE(json_at != std::string::npos);
  const json construction = json::parse(run_out.substr(json_at, run_out.find('\n', json_at) - json_at));
  const auto leaks = heaptrack_leaks(r.out);
  for (const auto& [function, want] : construction.items()) {
    INFO(function);
    const double held = want.at("inuse_bytes").get<double>();
    if (held == 0) {
      CHECK(leaks.count(function) == 0);
      continue;
    }
    REQUIRE(leaks.count(function) == 1);
    CHECK(leaks.at(function) == Approx(held).epsilon(0.005));  // heaptrack prints 3 digits
  }
}

TEST_CASE("C heap refused on a Go binary that maps no libc, with nothing attached", "[bpf][c_heap]") {
  // allocbench is built without cgo: statically linked, no libc.
  Child target = Child::spawn({fixture("allocbench"), "-wait-stdin"}, SpawnOptions{.stdin_pipe = true});
  REQUIRE(target.wait_stdout_line("ready", seconds(10)));
  const auto before = loaded_bpf_programs();
  const uint32_t last = before.empty() ? 0 : before.back().id;
  auto r = run({mwscope_binary(), "-p", std::to_string(target.pid()), "--c-heap", "--duration", "1"});
  INFO(r.err);
  CHECK(r.status != 0);
  CHECK(r.err.find("maps no glibc") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  for (const auto& p : loaded_bpf_programs()) CHECK(p.id <= last);
  target.close_stdin();
}
