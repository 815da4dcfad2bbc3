#include "target/elf_file.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "target/root_files.h"

namespace mws::target {

Result<std::unique_ptr<ElfFile>> ElfFile::open(const std::string& path) {
  auto fd = open_regular_file(path);
  if (!fd) return fd.error();
  return from_fd(fd->release(), path);
}

Result<std::unique_ptr<ElfFile>> ElfFile::open_in_root(pid_t pid, const std::string& path) {
  auto fd = open_in_process_root(pid, path);
  if (!fd) return fd.error();
  const int n = fd->get();
  return from_fd(fd->release(), "/proc/self/fd/" + std::to_string(n));
}

Result<std::unique_ptr<ElfFile>> ElfFile::open_process_exe(pid_t pid) {
  auto fd = open_regular_file("/proc/" + std::to_string(pid) + "/exe");
  if (!fd) return fd.error();
  const int n = fd->get();
  return from_fd(fd->release(), "/proc/self/fd/" + std::to_string(n));
}

Result<std::unique_ptr<ElfFile>> ElfFile::from_fd(int fd, const std::string& path) {
  std::unique_ptr<ElfFile> f(new ElfFile());
  f->path_ = path;
  f->fd_ = fd;
  struct stat st {};
  if (fstat(f->fd_, &st) != 0 || st.st_size <= 0) return Error{"cannot read " + path + ": empty or unreadable file"};
  f->size_ = static_cast<size_t>(st.st_size);
  void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, f->fd_, 0);
  if (m == MAP_FAILED) return Error{"cannot map " + path + ": " + std::strerror(errno)};
  f->data_ = static_cast<const uint8_t*>(m);

  elf_version(EV_CURRENT);
  Elf* elf = elf_memory(reinterpret_cast<char*>(const_cast<uint8_t*>(f->data_)), f->size_);
  if (!elf || elf_kind(elf) != ELF_K_ELF) {
    if (elf) elf_end(elf);
    return Error{path + " is not an ELF executable"};
  }
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
    elf_end(elf);
    return Error{path + " is not an x86-64 ELF executable (only amd64 is supported)"};
  }
  f->is_dyn_ = eh.e_type == ET_DYN;

  size_t phnum = 0;
  elf_getphdrnum(elf, &phnum);
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, static_cast<int>(i), &ph)) continue;
    if (ph.p_type == PT_LOAD) f->segments_.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_flags});
    if (ph.p_type == PT_TLS)
      f->tls_segment_ = ElfSegment{ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_flags, ph.p_align};
  }

  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf, &shstrndx) == 0) {
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
      f->sections_.push_back({name ? name : "", sh.sh_addr, sh.sh_offset, sh.sh_size, sh.sh_type, sh.sh_flags});
      if (sh.sh_type == SHT_SYMTAB) f->has_symtab_ = true;
    }
  }
  elf_end(elf);
  return f;
}

ElfFile::~ElfFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) close(fd_);
}

std::optional<ElfSection> ElfFile::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return s;
  return std::nullopt;
}

std::span<const uint8_t> ElfFile::section_data(const ElfSection& s) const {
  if (s.type == SHT_NOBITS || s.offset > size_ || s.size > size_ - s.offset) return {};
  return {data_ + s.offset, s.size};
}

// Every symbol of the given types in the sections of type `sh_type`
// (SHT_SYMTAB, SHT_DYNSYM).
std::vector<ElfSymbol> ElfFile::read_symbols(uint32_t sh_type, std::initializer_list<int> types) const {
  std::vector<ElfSymbol> out;
  Elf* elf = elf_memory(reinterpret_cast<char*>(const_cast<uint8_t*>(data_)), size_);
  if (!elf) return out;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != sh_type || sh.sh_entsize == 0) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    if (!d) continue;
    size_t n = sh.sh_size / sh.sh_entsize;
    out.reserve(n);
    for (size_t i = 0; i < n; i++) {
      GElf_Sym sym;
      if (!gelf_getsym(d, static_cast<int>(i), &sym)) continue;
      const int type = GELF_ST_TYPE(sym.st_info);
      if (std::find(types.begin(), types.end(), type) == types.end()) continue;
      const char* nm = elf_strptr(elf, sh.sh_link, sym.st_name);
      if (!nm || !*nm || (sym.st_shndx == SHN_UNDEF && type != STT_TLS)) continue;
      out.push_back({nm, sym.st_value, sym.st_size, type == STT_FUNC});
    }
  }
  elf_end(elf);
  return out;
}

const std::vector<ElfSymbol>& ElfFile::symbols() const {
  if (!symbols_loaded_) symbols_ = read_symbols(SHT_SYMTAB, {STT_FUNC, STT_OBJECT});
  symbols_loaded_ = true;
  return symbols_;
}

const std::vector<ElfSymbol>& ElfFile::dynamic_symbols() const {
  if (!dynamic_symbols_loaded_) dynamic_symbols_ = read_symbols(SHT_DYNSYM, {STT_FUNC, STT_OBJECT, STT_GNU_IFUNC});
  dynamic_symbols_loaded_ = true;
  return dynamic_symbols_;
}

std::optional<ElfSymbol> ElfFile::find_dynamic_symbol(std::string_view name) const {
  for (const auto& s : dynamic_symbols())
    if (s.name == name) return s;
  return std::nullopt;
}

std::optional<ElfSymbol> ElfFile::find_tls_symbol(std::string_view name) const {
  for (const auto& s : read_symbols(SHT_SYMTAB, {STT_TLS}))
    if (s.name == name) return s;
  return std::nullopt;
}

std::optional<ElfSymbol> ElfFile::find_symbol(std::string_view name) const {
  for (const auto& s : symbols())
    if (s.name == name) return s;
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::vaddr_to_offset(uint64_t vaddr) const {
  for (const auto& seg : segments_)
    if (vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz) return vaddr - seg.vaddr + seg.offset;
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::offset_to_vaddr(uint64_t offset) const {
  for (const auto& seg : segments_)
    if (offset >= seg.offset && offset < seg.offset + seg.filesz) return offset - seg.offset + seg.vaddr;
  return std::nullopt;
}

std::span<const uint8_t> ElfFile::read_vaddr(uint64_t vaddr, uint64_t len) const {
  for (const auto& seg : segments_) {
    if (vaddr < seg.vaddr || vaddr >= seg.vaddr + seg.filesz) continue;
    uint64_t off = vaddr - seg.vaddr + seg.offset;
    uint64_t avail = seg.vaddr + seg.filesz - vaddr;
    if (off > size_) return {};
    len = std::min({len, avail, static_cast<uint64_t>(size_ - off)});
    return {data_ + off, len};
  }
  return {};
}

}  // namespace mws::target
