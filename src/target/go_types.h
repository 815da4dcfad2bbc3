// Names of Go types, from the *_type pointers mallocgc receives, read from
// the executable's own type data (no access to the process needed: type
// descriptors live in .rodata).
//
// Layout (amd64, Go 1.17-1.26; runtime._type, later internal/abi.Type):
// size uintptr @0, ptrdata @8, hash uint32 @16, tflag uint8 @20, align,
// fieldAlign, kind @21..23, equal @24, gcdata @32, str nameOff int32 @40.
// str is an offset from the module's types base (runtime.types; in a
// stripped binary, moduledata.types, found beside the pointer to .gopclntab
// that starts runtime.firstmoduledata: .rodata need not start with it, cgo
// binaries put C data first); the name there is a flags byte, a uvarint
// length, the bytes. tflagExtraStar (1<<1) means the stored name has a '*'
// to drop. A name that does not read as one (not printable, implausible
// flags or length) is "(unknown type)", never bytes of something else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "target/elf_file.h"
#include "target/gopclntab.h"

namespace mws::target {

// The types base of `exe`: runtime.types, else moduledata.types (with the
// firstmoduledata `table` found); nullopt when neither can be found.
std::optional<uint64_t> find_types_base(const ElfFile& exe, const GoPclntab* table, const std::string& go_version);
// moduledata.types alone (what stripped binaries rely on), checked to lie in
// .rodata or (go1.27+) .go.type.
std::optional<uint64_t> types_base_from_moduledata(const ElfFile& exe, const GoPclntab& table,
                                                   const std::string& go_version);

class GoTypeNamer {
 public:
  // types_base: find_types_base's; 0 when unknown (every name is then
  // "(unknown type)").
  GoTypeNamer(const ElfFile& exe, uint64_t types_base) : exe_(exe), types_base_(types_base) {}
  bool available() const { return types_base_ != 0; }
  // "context.valueCtx", "[]uint8" (when the allocation holds several
  // elements of the type), "(no type)" for typ == 0 (raw noscan memory).
  std::string name(uint64_t type_addr, uint64_t alloc_size);

 private:
  std::optional<std::string> type_string(uint64_t type_addr);
  std::optional<uint64_t> type_size(uint64_t type_addr);
  const ElfFile& exe_;
  uint64_t types_base_ = 0;
  std::unordered_map<uint64_t, std::string> cache_;
};

}  // namespace mws::target
