// bench_symbols: how long mwscope takes to load a Go binary's symbols, on
// the path `mwscope record` uses after a recording: ElfFile::open,
// read_go_buildinfo, GoSymbolizer::create, then (a) symbolizing pcs spread
// over the text (the first call also scans the table for the wrapper funcID)
// and (b) the first function_by_name, which builds the name index.
//
//   bench_symbols BINARY [REPETITIONS=7] [PCS=10000]
//
// Every repetition starts from scratch (a new ElfFile; the page cache stays
// warm after the first). Prints one line per phase with its median and
// range, then the median of the totals.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "symbolize/go_symbolizer.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"

using Clock = std::chrono::steady_clock;
using mws::symbolize::GoSymbolizer;
using mws::target::ElfFile;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Phase {
  const char* name;
  std::vector<double> ms;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GO_BINARY [REPETITIONS=7] [PCS=10000]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
  const size_t npcs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 10000;

  Phase open{"ElfFile::open", {}}, build{"read_go_buildinfo", {}}, create{"GoSymbolizer::create", {}},
      sym{"symbolize pcs", {}}, byname{"function_by_name (index)", {}}, total{"total", {}};
  size_t functions = 0, frames = 0, unknown = 0;
  std::string version;
  bool stripped = false;

  for (int r = 0; r < reps; r++) {
    const auto t0 = Clock::now();
    auto t = t0;
    auto elf = ElfFile::open(path);
    if (!elf) {
      std::fprintf(stderr, "bench_symbols: %s\n", elf.error().message.c_str());
      return 1;
    }
    open.ms.push_back(ms_since(t));
    stripped = !(*elf)->has_symtab();

    t = Clock::now();
    auto info = mws::target::read_go_buildinfo(**elf);
    build.ms.push_back(ms_since(t));
    version = info ? info->version : "";

    t = Clock::now();
    auto s = GoSymbolizer::create(**elf, version);
    if (!s) {
      std::fprintf(stderr, "bench_symbols: %s\n", s.error().message.c_str());
      return 1;
    }
    create.ms.push_back(ms_since(t));
    GoSymbolizer& g = **s;
    const auto& table = g.table();
    functions = table.function_count();

    // (a) pcs evenly spread over the text the table covers.
    t = Clock::now();
    const uint64_t lo = table.function(0).entry, hi = table.function(functions - 1).end;
    frames = unknown = 0;
    for (size_t i = 0; i < npcs; i++) {
      uint64_t pc = lo + (hi - lo) / npcs * i + i % 7;
      auto fs = g.symbolize(pc);
      frames += fs.size();
      if (fs.empty()) unknown++;
    }
    sym.ms.push_back(ms_since(t));

    // (b) the name index.
    t = Clock::now();
    auto f = table.function_by_name("runtime.mallocgc");
    byname.ms.push_back(ms_since(t));
    if (!f) {
      std::fprintf(stderr, "bench_symbols: runtime.mallocgc not found in %s\n", path.c_str());
      return 1;
    }
    total.ms.push_back(ms_since(t0));
  }

  std::printf("bench_symbols: %s (%s, %s), %zu functions; %d repetitions; %zu pcs -> %zu frames (%zu in no function)\n",
              path.c_str(), version.empty() ? "unknown Go version" : version.c_str(),
              stripped ? "stripped: no .symtab" : "has .symtab", functions, reps, npcs, frames, unknown);
  for (const Phase* p : {&open, &build, &create, &sym, &byname, &total}) {
    auto [mn, mx] = std::minmax_element(p->ms.begin(), p->ms.end());
    std::printf("  %-26s median %8.2f ms  (min %.2f, max %.2f)\n", p->name, median(p->ms), *mn, *mx);
  }
  std::printf("median_total_ms %.2f\n", median(total.ms));
  return 0;
}
