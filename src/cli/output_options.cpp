#include "cli/output_options.h"

#include "cli/number_check.h"
#include "cli/record_options.h"
#include "report/reporter.h"
#include "report/weight.h"

namespace mws::cli {

void add_output_options(CLI::App& app, OutputOptions& out) {
  app.add_option("--folded", out.folded_path, "Write flame-graph input (folded stacks) to FILE")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--json", out.json_path, "Write the recording as a Profile (JSON) to FILE")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--pprof", out.pprof_path,
                 "Write a heap profile (gzipped profile.proto: alloc and inuse objects and space, a middleware label "
                 "per sample) to FILE, for go tool pprof")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--pprof-goroutines", out.pprof_goroutines_path,
                 "Write a goroutine profile of the goroutines alive at the end (labels state, leaked, middleware) to "
                 "FILE, for go tool pprof")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--leaks-folded", out.leaks_folded_path,
                 "Write one folded line per leaked goroutine group (creation stack, live count) to FILE")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--threads-folded", out.threads_folded_path,
                 "Write one folded line per group of live threads at the end (holder, go statement, stack; "
                 "weighted by thread count) to FILE (recording with --threads)")
      ->type_name("FILE")
      ->group(kOutputs);
  app.add_option("--weight", out.weight,
                 "What folded stacks and the top table weigh: bytes, objects (sampled mode: estimates), samples "
                 "(raw, sampled mode), inuse-bytes or inuse-objects (the whole heap in use at the end, as of the last GC), "
                 "c-bytes or c-inuse-bytes (the C heap, --c-heap: allocated while recording, and of that still "
                 "allocated at the end)")
      ->type_name("WEIGHT")
      ->check(one_of({"bytes", "objects", "samples", "inuse-bytes", "inuse-objects", "c-bytes", "c-inuse-bytes"}))
      ->capture_default_str()
      ->group(kOutputs);
  app.add_option("--top", out.top, "Rows in the top allocation sites table")
      ->type_name("N")
      ->check(whole_number_of("rows", 1))
      ->capture_default_str()
      ->group(kOutputs);
  app.add_option_function<std::string>(
         "--group-by",
         [&out](const std::string& v) {
           out.group_by = v == "route" ? FoldedGroupBy::Route : FoldedGroupBy::Middleware;
         },
         "middleware: folded stacks start with the owning middleware, so a flame graph splits by it first; route: "
         "with the route of the request (a profile recorded with routes), one line per route")
      ->type_name("middleware|route")
      ->check(one_of({"middleware", "route"}))
      ->group(kOutputs);
}

void add_middleware_option(CLI::App& app, std::vector<std::string>& patterns, const std::string& group) {
  app.add_option("--middleware", patterns,
                 "Also treat functions matching REGEX as middleware (repeatable), e.g. 'myco/api/mw\\.'")
      ->type_name("REGEX")
      ->group(group);
}

void add_interval_options(CLI::App& app, IntervalOptions& opt) {
  app.add_option("--interval", opt.interval_s,
                 "Every SECONDS, a compact report of the last interval (per middleware objects/s and bytes/s, "
                 "in-use change, leak groups, drops); redrawn in place on a terminal, appended otherwise")
      ->type_name("SECONDS")
      ->check(number_of("seconds", 0.5))
      ->group(kOutputs);
  app.add_option("--pprof-dir", opt.pprof_dir,
                 "With --interval: write a heap profile (pprof, everything since attach) per interval into DIR, "
                 "named by time; never overwrites a file")
      ->type_name("DIR")
      ->group(kOutputs);
}

Status check_outputs(const OutputOptions& out, const std::string& mode, bool c_heap) {
  auto weight = parse_weight(out.weight);
  if (!weight) return weight.error();
  if (is_c_heap(*weight) && !c_heap) return Error{"--weight " + out.weight + " ranks the C heap: add --c-heap"};
  if (needs_sampled_mode(*weight) && mode != "sampled")
    return Error{"--weight " + out.weight + " needs sampled mode (raw samples come from the Go runtime's "
                 "sampler); drop --mode " + mode + ", or use --weight bytes or objects"};
  for (const std::string* path : {&out.folded_path, &out.leaks_folded_path, &out.threads_folded_path, &out.json_path,
                                  &out.pprof_path, &out.pprof_goroutines_path})
    if (!path->empty())
      if (auto st = check_writable(*path); !st) return st;
  return Ok{};
}

Status check_interval(const IntervalOptions& opt) {
  if (opt.pprof_dir.empty()) return Ok{};
  if (opt.interval_s <= 0) return Error{"--pprof-dir writes one file per --interval: give --interval S"};
  return check_writable(opt.pprof_dir + "/mwscope.pb.gz");
}

}  // namespace mws::cli
