// The Go version (and main module path) recorded by the linker in
// .go.buildinfo. Present in nearly every Go >= 1.13 binary, stripped or not;
// some release builds lack it (esbuild 0.28.2), and then the version comes
// from runtime.buildVersion (target/go_functions.h: find_build_version).
#pragma once

#include <optional>
#include <string>

#include "target/elf_file.h"

namespace mws::target {

struct GoBuildInfo {
  std::string version;  // "go1.19.8"
  std::string module_info;  // raw modinfo text (may be empty)
};

// nullopt when the binary carries no Go build information (not Go).
std::optional<GoBuildInfo> read_go_buildinfo(const ElfFile& elf);

// Whether `elf` is a Go program. With section headers, they decide
// (.go.buildinfo, .gopclntab or .note.go.buildid: the Go linker writes
// them all): nothing but the headers is read, so a large C++ binary costs
// as little as a small one. Without section headers (sstrip), the
// build info header is searched for in the data segments.
bool is_go_executable(const ElfFile& elf);

}  // namespace mws::target
