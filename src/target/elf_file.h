// ElfFile: read-only view of an ELF executable (libelf underneath): its
// sections, program headers and symbol table. The whole file is mapped
// once; spans stay valid for the ElfFile's lifetime.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/result.h"

namespace mws::target {

struct ElfSection {
  std::string name;
  uint64_t addr = 0;    // link-time virtual address (0 if not allocated)
  uint64_t offset = 0;  // offset in the file
  uint64_t size = 0;
  uint32_t type = 0;    // SHT_*
  uint64_t flags = 0;   // SHF_* (SHF_WRITE, SHF_ALLOC, ...)
};

struct ElfSegment {  // PT_LOAD (or PT_TLS) program header
  uint64_t vaddr = 0, offset = 0, filesz = 0, memsz = 0;
  uint32_t flags = 0;  // PF_X | PF_W | PF_R
  uint64_t align = 0;  // kept for PT_TLS only
};

struct ElfSymbol {
  std::string name;
  uint64_t value = 0;  // link-time virtual address
  uint64_t size = 0;
  bool is_function = false;  // STT_FUNC; otherwise STT_OBJECT (data)
};

class ElfFile {
 public:
  // Opens and maps `path` (a regular file only; never blocks on a FIFO).
  // Fails with a message naming the path.
  static Result<std::unique_ptr<ElfFile>> open(const std::string& path);
  // The target's file `path` (as the target sees it), opened beneath its
  // root (target/root_files.h). path() is then /proc/self/fd/N: the one open
  // file that DWARF and the uprobe attach use too, while this ElfFile lives.
  static Result<std::unique_ptr<ElfFile>> open_in_root(pid_t pid, const std::string& path);
  // The executable the process runs (/proc/PID/exe names exactly that
  // file), opened once; path() as for open_in_root.
  static Result<std::unique_ptr<ElfFile>> open_process_exe(pid_t pid);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  // A path that opens this same file from mwscope (for libdw, uprobes).
  const std::string& path() const { return path_; }
  // The open file itself, valid while this ElfFile lives.
  int fd() const { return fd_; }
  bool is_pie() const { return is_dyn_; }  // ET_DYN
  const std::vector<ElfSection>& sections() const { return sections_; }
  const std::vector<ElfSegment>& load_segments() const { return segments_; }
  std::optional<ElfSection> section(std::string_view name) const;
  // Bytes of a section (empty span for SHT_NOBITS or out-of-file sections).
  std::span<const uint8_t> section_data(const ElfSection& s) const;
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  bool has_symtab() const { return has_symtab_; }
  // Function or data symbol by exact name from .symtab (not .dynsym).
  std::optional<ElfSymbol> find_symbol(std::string_view name) const;
  // .dynsym's defined functions and objects (a shared library's exports:
  // what a stripped libc still names).
  const std::vector<ElfSymbol>& dynamic_symbols() const;
  std::optional<ElfSymbol> find_dynamic_symbol(std::string_view name) const;
  // A thread-local symbol of .symtab; its value is its offset in the TLS segment.
  std::optional<ElfSymbol> find_tls_symbol(std::string_view name) const;
  // The PT_TLS program header, when the file has thread-local storage.
  const std::optional<ElfSegment>& tls_segment() const { return tls_segment_; }
  // All function and data symbols of .symtab (loaded lazily once).
  const std::vector<ElfSymbol>& symbols() const;

  // Link-time virtual address -> file offset, through the PT_LOAD segments.
  std::optional<uint64_t> vaddr_to_offset(uint64_t vaddr) const;
  // The link-time address of a file offset inside a PT_LOAD segment.
  std::optional<uint64_t> offset_to_vaddr(uint64_t offset) const;
  // Reads `len` bytes at a link-time virtual address (file-backed part only).
  std::span<const uint8_t> read_vaddr(uint64_t vaddr, uint64_t len) const;

 private:
  ElfFile() = default;
  // Maps the open regular file `fd` (owned from now on); `path` names it in messages.
  static Result<std::unique_ptr<ElfFile>> from_fd(int fd, const std::string& path);
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool is_dyn_ = false;
  bool has_symtab_ = false;
  std::vector<ElfSection> sections_;
  std::vector<ElfSegment> segments_;
  mutable std::vector<ElfSymbol> symbols_;
  mutable bool symbols_loaded_ = false;
  mutable std::vector<ElfSymbol> dynamic_symbols_;
  mutable bool dynamic_symbols_loaded_ = false;
  std::optional<ElfSegment> tls_segment_;
  std::vector<ElfSymbol> read_symbols(uint32_t sh_type, std::initializer_list<int> types) const;
};

}  // namespace mws::target
