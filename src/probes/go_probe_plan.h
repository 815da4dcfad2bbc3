// Where to hook a Go executable: checks that it is Go, that we can find
// the allocator, and where in its prologue the probe goes.
#pragma once

#include <string>

#include "probes/alloc_probe.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "util/result.h"

namespace mws::probes {

struct GoTarget {
  target::GoBuildInfo build;
  ProbeSite mallocgc;
};

// `what` names the target in messages ("process 123 (/usr/bin/app)").
Result<GoTarget> plan_go_alloc_probe(const target::ElfFile& exe, const std::string& what);

}  // namespace mws::probes
