// A small ELF executable made in memory and opened as mwscope opens a
// target's file (ElfFile, through a memfd): one PT_LOAD and one section per
// region, and a .symtab when symbols are given. For the fuzzers whose input
// is a piece of a binary (build info, type data): the fuzzed bytes become a
// section at a fixed address.
#pragma once

#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "target/elf_file.h"

namespace mws::fuzz {

struct TinySection {
  std::string name;  // section name; "" for a segment without a section header
  uint64_t vaddr = 0;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  bool writable = false;
};

struct TinySymbol {
  std::string name;
  uint64_t value = 0;
};

inline std::vector<uint8_t> make_tiny_elf(const std::vector<TinySection>& secs, const std::vector<TinySymbol>& syms = {}) {
  std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + secs.size() * sizeof(Elf64_Phdr));
  auto append = [&out](const void* p, size_t n, size_t align) {
    while (out.size() % align) out.push_back(0);
    const size_t at = out.size();
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
    return at;
  };
  std::vector<size_t> offsets;
  for (const auto& s : secs) offsets.push_back(append(s.bytes, s.size, 16));
  std::string shstr(1, '\0');
  std::vector<uint32_t> names;
  for (const auto& s : secs) {
    names.push_back(static_cast<uint32_t>(shstr.size()));
    shstr += s.name + '\0';
  }
  const uint32_t symtab_name = static_cast<uint32_t>(shstr.size());
  shstr += std::string(".symtab") + '\0';
  const uint32_t strtab_name = static_cast<uint32_t>(shstr.size());
  shstr += std::string(".strtab") + '\0';
  const uint32_t shstrtab_name = static_cast<uint32_t>(shstr.size());
  shstr += std::string(".shstrtab") + '\0';
  std::string strtab(1, '\0');
  std::vector<Elf64_Sym> esyms(1);
  for (const auto& s : syms) {
    Elf64_Sym e{};
    e.st_name = static_cast<uint32_t>(strtab.size());
    strtab += s.name + '\0';
    e.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
    e.st_shndx = SHN_ABS;
    e.st_value = s.value;
    e.st_size = 8;
    esyms.push_back(e);
  }
  const size_t shstr_off = append(shstr.data(), shstr.size(), 1);
  const size_t str_off = append(strtab.data(), strtab.size(), 1);
  const size_t sym_off = append(esyms.data(), esyms.size() * sizeof(Elf64_Sym), 8);

  std::vector<Elf64_Shdr> sh(1);
  for (size_t i = 0; i < secs.size(); i++) {
    if (secs[i].name.empty()) continue;
    Elf64_Shdr s{};
    s.sh_name = names[i];
    s.sh_type = SHT_PROGBITS;
    s.sh_flags = SHF_ALLOC | (secs[i].writable ? SHF_WRITE : 0);
    s.sh_addr = secs[i].vaddr;
    s.sh_offset = offsets[i];
    s.sh_size = secs[i].size;
    s.sh_addralign = 1;
    sh.push_back(s);
  }
  if (!syms.empty()) {
    Elf64_Shdr s{};
    s.sh_name = symtab_name;
    s.sh_type = SHT_SYMTAB;
    s.sh_offset = sym_off;
    s.sh_size = esyms.size() * sizeof(Elf64_Sym);
    s.sh_link = static_cast<uint32_t>(sh.size() + 1);
    s.sh_info = 1;
    s.sh_entsize = sizeof(Elf64_Sym);
    s.sh_addralign = 8;
    sh.push_back(s);
    Elf64_Shdr t{};
    t.sh_name = strtab_name;
    t.sh_type = SHT_STRTAB;
    t.sh_offset = str_off;
    t.sh_size = strtab.size();
    t.sh_addralign = 1;
    sh.push_back(t);
  }
  const uint16_t shstrndx = static_cast<uint16_t>(sh.size());
  {
    Elf64_Shdr s{};
    s.sh_name = shstrtab_name;
    s.sh_type = SHT_STRTAB;
    s.sh_offset = shstr_off;
    s.sh_size = shstr.size();
    s.sh_addralign = 1;
    sh.push_back(s);
  }
  const size_t sh_off = append(sh.data(), sh.size() * sizeof(Elf64_Shdr), 8);

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_shoff = sh_off;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(secs.size());
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = static_cast<uint16_t>(sh.size());
  eh.e_shstrndx = shstrndx;
  std::memcpy(out.data(), &eh, sizeof eh);
  for (size_t i = 0; i < secs.size(); i++) {
    Elf64_Phdr p{};
    p.p_type = PT_LOAD;
    p.p_flags = PF_R | (secs[i].writable ? PF_W : 0u);
    p.p_offset = offsets[i];
    p.p_vaddr = p.p_paddr = secs[i].vaddr;
    p.p_filesz = p.p_memsz = secs[i].size;
    p.p_align = 16;
    std::memcpy(out.data() + sizeof eh + i * sizeof(Elf64_Phdr), &p, sizeof p);
  }
  return out;
}

// The file, opened through ElfFile::open as a target's file is.
inline std::unique_ptr<target::ElfFile> open_tiny_elf(const std::vector<uint8_t>& bytes) {
  int fd = memfd_create("mws_fuzz_elf", MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  std::unique_ptr<target::ElfFile> elf;
  if (done == bytes.size())
    if (auto r = target::ElfFile::open("/proc/self/fd/" + std::to_string(fd))) elf = std::move(r.value());
  close(fd);
  return elf;
}

}  // namespace mws::fuzz
