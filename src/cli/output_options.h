// The options that say what to write: the text report's table, the files
// (folded, JSON, pprof), and while recording the live view. Shared by every
// command that ends with a Profile (`mwscope -p`, `mwscope report`).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "report/folded.h"
#include "util/result.h"

namespace mws::cli {

struct OutputOptions {
  std::string weight = "bytes";
  std::string folded_path;
  std::string json_path;
  std::string leaks_folded_path;
  std::string threads_folded_path;
  std::string pprof_path, pprof_goroutines_path;
  std::vector<std::string> middleware_patterns;
  // --group-by: middleware or route. (Named for its first value, which
  // src/main.cpp passes on as is; rename it with main.cpp.)
  FoldedGroupBy group_by = FoldedGroupBy::None;
  size_t top = 20;
};

// --folded, --json, --pprof, --pprof-goroutines, --leaks-folded,
// --threads-folded, --weight, --top, --group-by, in the group "Outputs".
void add_output_options(CLI::App& app, OutputOptions& out);

// --middleware REGEX (repeatable), in `group`: what is recorded is
// attributed with it, and a saved Profile again.
void add_middleware_option(CLI::App& app, std::vector<std::string>& patterns, const std::string& group);

// While recording: a compact report every --interval SECONDS, and a pprof
// file per interval into --pprof-dir DIR.
struct IntervalOptions {
  double interval_s = 0;
  std::string pprof_dir;
};
void add_interval_options(CLI::App& app, IntervalOptions& opt);

// What can be checked of the outputs before recording: the weight (against
// the mode and --c-heap), and that every output file can be created. A
// mistake found after recording would cost the recording.
Status check_outputs(const OutputOptions& out, const std::string& mode, bool c_heap);
Status check_interval(const IntervalOptions& opt);

}  // namespace mws::cli
