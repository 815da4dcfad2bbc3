// Where the runtime variables the reachability check starts from are in a
// Go binary, stripped or not: runtime.mheap_ (the heap's root, mheap.go) and
// runtime.allm (every thread, proc.go).
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
std::optional<uint64_t> find_mheap_in_code(const ElfFile& exe, const GoFunctionIndex& index);

// Link address of runtime.allm: the .symtab symbol, or the code of
// runtime.mcommoninit, whose `atomicstorep(unsafe.Pointer(&allm), ...)`
// (proc.go, every version of the table) inlines its write barrier as
//   LEAQ runtime.allm(SB), AX ; [one instruction] ; CALL runtime.atomicwb(SB)
std::optional<uint64_t> find_allm(const ElfFile& exe, const GoFunctionIndex& index);
std::optional<uint64_t> find_allm_in_code(const ElfFile& exe, const GoFunctionIndex& index);

}  // namespace mws::target
