// Finding a Go binary's runtime functions and variables by name, whether
// or not it was stripped: .symtab when present, else .gopclntab (every Go
// binary keeps it), and, for the few variables we read, the code that
// uses them.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "target/elf_file.h"
#include "target/gopclntab.h"
#include "util/result.h"

namespace mws::target {

struct GoFunctionRange {
  uint64_t entry = 0, size = 0, file_offset = 0;
};

// [lo, hi) of code, link-time addresses.
struct CodeRange {
  uint64_t lo = 0, hi = 0;
};

struct NamedGoFunction {
  std::string name;
  GoFunctionRange range;
};

class GoFunctionIndex {
 public:
  // `what` names the target in messages ("process 123 (/usr/bin/app)").
  // A set `stop` (Ctrl-C) cuts the search for a stripped binary's table.
  GoFunctionIndex(const ElfFile& exe, const std::string& go_version, const std::string& what,
                  const std::atomic<bool>* stop = nullptr);
  Result<GoFunctionRange> find(const std::string& name) const;
  // Every function whose name starts with `prefix`, by entry address.
  std::vector<NamedGoFunction> find_prefix(std::string_view prefix) const;
  // visit(name, entry, size) for every function of the binary.
  void for_each_function(const std::function<void(std::string_view, uint64_t, uint64_t)>& visit) const;
  bool from_symtab() const { return exe_.has_symtab(); }

 private:
  const ElfFile& exe_;
  std::string what_;
  std::optional<GoPclntab> pclntab_;
  std::string problem_;
};

// The functions, outside the `allowed` ranges, whose code calls into one of
// the `callees` ranges directly (CALL rel32). Exact mode's proof, on a Go
// release newer than the table, that the allocator's internal paths are
// reached only through its probed entry points. Disassembles every
// function: about a second on a 10 MB binary.
std::vector<std::string> direct_callers_outside(const ElfFile& exe, const GoFunctionIndex& index,
                                                const std::vector<CodeRange>& callees,
                                                const std::vector<CodeRange>& allowed);

// The link addresses that the code of `fn` calls directly (CALL rel32).
std::set<uint64_t> direct_call_targets(const ElfFile& exe, const GoFunctionRange& fn);

// Link address of runtime.allgs ([]*g): the .symtab symbol, or, in a
// stripped binary, the slice header that runtime.allgadd appends to (the
// one variable whose ptr, len and cap words it all addresses).
std::optional<uint64_t> find_allgs(const ElfFile& exe, const GoFunctionIndex& index);
// The code-only half of find_allgs (exposed to test it on unstripped binaries).
std::optional<uint64_t> find_allgs_in_code(const ElfFile& exe, const GoFunctionIndex& index);

// Link address of runtime.MemProfileRate (an int): the .symtab symbol, or,
// stripped, the variable runtime.profilealloc compares with 1.
std::optional<uint64_t> find_mem_profile_rate(const ElfFile& exe, const GoFunctionIndex& index);
// Whether the word at link address `vaddr` is one mwscope may write as
// runtime.MemProfileRate (--go-sample-rate): 8-byte aligned, its 8 bytes
// inside one allocated, writable section (SHF_WRITE | SHF_ALLOC, not TLS;
// .noptrbss counts: the linker may put it there) in a writable PT_LOAD
// segment, and, when .symtab names runtime.MemProfileRate, exactly that
// 8-byte symbol. The error says which of these fails.
Status check_mem_profile_rate_word(const ElfFile& exe, uint64_t vaddr);
// The code-only half (exposed to test it on unstripped binaries).
std::optional<uint64_t> find_mem_profile_rate_in_code(const ElfFile& exe, const GoFunctionIndex& index);

// Where the runtime keeps its memory profile (mprof.go): link addresses of
// runtime.mbuckets (the head of the bucket list) and runtime.mProfCycle
// (the GC cycle the profile is at). The .symtab symbols, or, stripped, the
// first RIP-relative quadword runtime.mProf_FlushLocked loads (mbuckets)
// and the first doubleword runtime.mProf_Flush loads (mProfCycle.value),
// as every version of the table compiles them.
struct HeapProfileVariables {
  uint64_t mbuckets = 0, mprof_cycle = 0;
};
std::optional<HeapProfileVariables> find_heap_profile_variables(const ElfFile& exe, const GoFunctionIndex& index);
// The code-only half (exposed to test it on unstripped binaries).
std::optional<HeapProfileVariables> find_heap_profile_variables_in_code(const ElfFile& exe,
                                                                        const GoFunctionIndex& index);

// The value of runtime.buildVersion ("go1.26.5", what runtime.Version()
// returns), for binaries without a .go.buildinfo header (some release
// pipelines drop the section: esbuild 0.28.2's go1.26.5 binary has none,
// though its modinfo is there). Found through the .symtab symbol, else
// through the code of runtime.schedinit, which reads and writes the
// variable in every Go version. nullopt when not found or when the value
// does not look like a Go version ("go1.N..." or "devel ...").
std::optional<std::string> find_build_version(const ElfFile& exe, const GoFunctionIndex& index);

}  // namespace mws::target
