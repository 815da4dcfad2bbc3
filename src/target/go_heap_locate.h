// Where runtime.mheap_ (the Go heap's root, mheap.go) is in a Go binary,
// stripped or not.
#pragma once

#include <cstdint>
#include <optional>

#include "target/elf_file.h"
#include "target/go_functions.h"

namespace mws::target {

// Link address of runtime.mheap_: the .symtab symbol, or, in a stripped
// binary, the code of runtime.mallocinit, which in every Go version of the
// table (1.19 … 1.27, malloc.go) calls `mheap_.init()`, compiled as
//   LEAQ runtime.mheap_(SB), AX ; CALL runtime.(*mheap).init(SB)
std::optional<uint64_t> find_mheap(const ElfFile& exe, const GoFunctionIndex& index);
// The code-only half (exposed to test it on unstripped binaries).
std::optional<uint64_t> find_mheap_in_code(const ElfFile& exe, const GoFunctionIndex& index);

}  // namespace mws::target
