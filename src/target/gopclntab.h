// GoPclntab: reader of a Go executable's function table (.gopclntab):
// every function's name, entry and end, its pc -> file:line tables and its
// inline tree. Formats: Go 1.16-1.17 (magic 0xfffffffa), 1.18-1.19
// (0xfffffff0) and 1.20+ (0xfffffff1); amd64 (little endian, 8-byte
// pointers) only.
//
// Input is untrusted: every read is bounds-checked; a corrupt table gives an
// error at parse time or "unknown" answers later, never a crash.
//
// Lazy: parsing validates the header and the pc -> function index only;
// names and line tables are decoded when asked for. The returned string_views
// point into the ElfFile's mapping (or the caller's bytes): the table must not
// outlive them. All const methods are safe to call from several threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "target/elf_file.h"
#include "util/result.h"

namespace mws::target {

enum class PclntabFormat {
  kGo116,  // Go 1.16-1.17: absolute entry pcs, funcdata are pointers
  kGo118,  // Go 1.18-1.19: entry offsets from textStart, funcdata offsets from moduledata.gofunc
  kGo120,  // Go 1.20+: as 1.18 plus _func.startLine; new inlinedCall layout
};

// A function of the table. `end` is the next function's entry (or the end of
// the table's text for the last one), so it includes alignment padding.
struct GoFunction {
  uint32_t index = 0;
  uint64_t entry = 0;
  uint64_t end = 0;
  std::string_view name;  // as stored in the table (empty if unreadable)
  uint64_t size() const { return end - entry; }
};

struct GoLine {
  std::string_view file;
  int32_t line = 0;
};

// One logical frame of a pc: an inlined call or the physical function.
struct GoInlineFrame {
  std::string_view function;  // as stored in the table
  std::string_view file;      // empty when unknown
  int32_t line = 0;           // 0 when unknown
  bool inlined = false;       // false only for the last (physical) frame
  uint8_t func_id = 0;        // runtime funcID (0 = normal); numbering varies by Go version
};

// A piece of the program's file-backed memory, for reading what the table
// points to (inline trees live in .rodata, moduledata in .noptrdata).
struct MemoryRegion {
  uint64_t vaddr = 0;
  std::span<const uint8_t> bytes;
  bool writable = false;  // from PF_W: where moduledata may live
};

// Everything the reader needs, without ELF: the entry point for tests and
// fuzzing.
struct PclntabImage {
  std::span<const uint8_t> table;   // starts at the pcHeader; may run past the table's end
  uint64_t table_vaddr = 0;         // link-time address of table[0]
  uint64_t text_fallback = 0;       // text start when the header's textStart is 0 (PIE); 0 = none
  std::optional<uint64_t> gofunc;   // moduledata.gofunc if already known (Go 1.18+)
  std::vector<MemoryRegion> memory; // searched for moduledata and inline trees
};

// Candidate pcHeaders fully checked by GoPclntab::find_header before it gives up.
inline constexpr int kMaxPclntabCandidates = 16;

class GoPclntab {
 public:
  // Finds the table in `elf`: the .gopclntab section, else a scan of the
  // loaded segments for a valid pcHeader. `go_version` ("go1.19.8", from
  // .go.buildinfo; may be empty) refines what the magic says. `elf` must
  // outlive the result.
  // A set `stop` (Ctrl-C) ends the header scan early, as a failure.
  static Result<GoPclntab> parse(const ElfFile& elf, std::string_view go_version = {},
                                 const std::atomic<bool>* stop = nullptr);
  // Same, from raw pieces (see PclntabImage).
  static Result<GoPclntab> parse_image(PclntabImage image, std::string_view go_version = {});
  // Scans `memory` for a pcHeader (magic, zero pads, minLC 1, ptrSize 8)
  // whose header validates; returns its address, or nullopt. Linear in the
  // size of `memory`: a candidate whose header passes the O(1) checks costs
  // a walk of its whole function index, so after kMaxPclntabCandidates of
  // them the scan gives up (a binary full of look-alike headers is hostile).
  // Ends early, with nullopt, when `stop` is set.
  static std::optional<uint64_t> find_header(std::span<const MemoryRegion> memory,
                                             const std::atomic<bool>* stop = nullptr);

  GoPclntab(GoPclntab&&) noexcept;
  GoPclntab& operator=(GoPclntab&&) noexcept;
  ~GoPclntab();

  PclntabFormat format() const { return format_; }
  uint64_t table_vaddr() const { return image_.table_vaddr; }
  uint64_t text_start() const { return text_start_; }
  // moduledata.gofunc (Go 1.18+), when found: without it inline trees of
  // Go 1.18+ tables cannot be read (frames then name the physical function).
  std::optional<uint64_t> gofunc() const { return image_.gofunc; }
  // Address of runtime.firstmoduledata: the word in the program's data that
  // points to this table's pcHeader, with its funcnametab, pclntable and ftab
  // slices pointing into it. Searched on first call (once at parse when
  // gofunc must come from it); nullopt when not found.
  std::optional<uint64_t> moduledata() const;
  bool has_inline_info() const { return format_ == PclntabFormat::kGo116 || image_.gofunc.has_value(); }

  // Functions, sorted by entry: iterate with function(i), i < function_count().
  size_t function_count() const { return nfunc_; }
  GoFunction function(size_t i) const;
  // The function whose [entry, end) holds pc (binary search).
  std::optional<GoFunction> find_function(uint64_t pc) const;
  // By exact table name (first match; index built on first call).
  std::optional<GoFunction> function_by_name(std::string_view name) const;
  // How far SP is below the function's entry SP at `pc` (the pcsp table, as
  // the runtime's funcspdelta): frame size, saved BP included. nullopt when
  // pc is in no function or the table is unreadable.
  std::optional<int32_t> sp_delta(uint64_t pc) const;
  uint8_t func_id(const GoFunction& f) const;

  // File and line of the physical function's tables at pc (for an inlined
  // pc this is the innermost inlined call's position, as in Go).
  std::optional<GoLine> lines(uint64_t pc) const;
  // Inline-tree index at pc (PCDATA_InlTreeIndex), -1 when not inlined.
  int32_t inline_index(const GoFunction& f, uint64_t pc) const;
  // All logical frames at pc, innermost first, the physical function last,
  // as Go's inline unwinder walks them (no wrapper elision). Empty when pc
  // is in no function.
  std::vector<GoInlineFrame> expand(uint64_t pc) const;
  // Names of the functions inlined anywhere into f (its inline tree), sorted.
  std::vector<std::string_view> inlined_functions(const GoFunction& f) const;

 private:
  struct Lazy;
  GoPclntab() = default;
  Status init(std::string_view go_version);
  std::optional<uint64_t> find_moduledata() const;
  std::optional<uint64_t> text_from_moduledata() const;

  // Table access (all bounds-checked).
  std::optional<uint32_t> u32(std::span<const uint8_t> s, uint64_t off) const;
  std::optional<uint64_t> u64(std::span<const uint8_t> s, uint64_t off) const;
  uint64_t ftab_entry(size_t i) const;  // i <= nfunc_
  uint64_t ftab_funcoff(size_t i) const;
  std::string_view cstring(std::span<const uint8_t> s, uint64_t off) const;
  std::span<const uint8_t> read_memory(uint64_t vaddr, uint64_t len) const;

  struct FuncHeader {
    uint64_t entry = 0;
    int32_t nameoff = 0;
    uint32_t pcsp = 0, pcfile = 0, pcln = 0, npcdata = 0, cu_offset = 0;
    uint8_t func_id = 0, nfuncdata = 0;
    uint64_t offset = 0;  // of the _func in pcln_
  };
  std::optional<FuncHeader> func_header(size_t i) const;
  template <typename Visit>
  bool walk_pcvalue(uint32_t off, uint64_t entry, Visit&& visit) const;
  int32_t pcvalue(uint32_t off, uint64_t entry, uint64_t target) const;
  struct InlinedCall {
    std::string_view function;
    uint8_t func_id = 0;
    int32_t parent_pc = 0;
  };
  // Entry ix of the inline tree at `tree`; nullopt when unreadable.
  std::optional<InlinedCall> inlined_call(uint64_t tree, int32_t ix) const;
  int32_t pcdata(const FuncHeader& f, uint32_t table, uint64_t pc) const;
  std::optional<uint64_t> funcdata(const FuncHeader& f, uint8_t index) const;
  GoLine funcline(const FuncHeader& f, uint64_t pc) const;
  std::string_view name_at(int64_t nameoff) const;

  PclntabImage image_;
  PclntabFormat format_ = PclntabFormat::kGo118;
  size_t nfunc_ = 0;
  uint64_t text_start_ = 0;
  uint64_t pcln_vaddr_ = 0;  // address of the functab
  mutable std::optional<std::optional<uint64_t>> moduledata_;  // outer: searched yet
  uint64_t func_header_size_ = 0;
  // Sub-tables of image_.table, each bounded by the next one's offset.
  std::span<const uint8_t> funcnametab_, cutab_, filetab_, pctab_, pcln_;
  std::unique_ptr<Lazy> lazy_;
};

// Parses "go1.19.8", "go1.21rc2", "devel go1.23-abc" into (1, minor);
// nullopt when no "go1.N" is found.
std::optional<std::pair<int, int>> parse_go_version(std::string_view v);

// Go's funcNameForPrint: "pkg.F[go.shape.int]" -> "pkg.F[...]".
std::string go_func_name_for_print(std::string_view name);

}  // namespace mws::target
