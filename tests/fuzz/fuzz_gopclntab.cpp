// libFuzzer target for the .gopclntab reader (src/target/gopclntab.cpp) and
// the Go symbolizer on top of it. The input is a serialized PclntabImage
// (tests/fuzz/pclntab_input.h); the table and every memory region get their
// own exact-size allocation, so ASan reports a read past any of them.
//
// Every public query runs: the header scan (find_header), parse_image, the
// function index (every function, plus out-of-range indices), find_function,
// lines, inline_index and expand at each function's entry, middle and last
// byte and at edge pcs, function_by_name for every name, and
// GoSymbolizer::symbolize. Every returned string is read to its end.
// When the input asks for it (flag bit 4), the same pieces are also laid out
// as an ELF executable in a memfd and go through ElfFile::open,
// GoPclntab::parse (segments, section lookup or header scan, .symtab) and
// GoSymbolizer::create, as mwscope reads a target.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined (tests/CMakeLists.txt);
// run as ctest -L fuzz, or by hand:
//   build/fuzz/fuzz_gopclntab build/fuzz/gopclntab_work build/fuzz/gopclntab_seeds
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "pclntab_input.h"
#include "tiny_elf.h"
#include "symbolize/go_symbolizer.h"
#include "target/elf_file.h"
#include "target/gopclntab.h"

using mws::fuzz::FuzzInput;
using mws::symbolize::GoSymbolizer;
using mws::target::ElfFile;
using mws::target::GoFunction;
using mws::target::GoPclntab;
using mws::target::MemoryRegion;
using mws::target::PclntabImage;

namespace {

// Functions visited per input: the table's own bound (nfunc <= size / 8)
// keeps this small already; the cap only bounds pathological slow inputs.
constexpr size_t kMaxFunctions = 1 << 14;
constexpr size_t kMaxSymbolizedPcs = 512;

volatile uint64_t g_sink;

// Reads every byte a returned view claims, so ASan checks it.
void touch(std::string_view s) {
  uint64_t h = s.size();
  for (char c : s) h = h * 31 + static_cast<unsigned char>(c);
  g_sink = g_sink + h;
}

void query_pc(const GoPclntab& t, uint64_t pc) {
  if (auto f = t.find_function(pc)) {
    touch(f->name);
    g_sink = g_sink + f->size() + t.func_id(*f) + static_cast<uint64_t>(t.inline_index(*f, pc));
  }
  if (auto ln = t.lines(pc)) {
    touch(ln->file);
    g_sink = g_sink + static_cast<uint32_t>(ln->line);
  }
  for (const auto& fr : t.expand(pc)) {
    touch(fr.function);
    touch(fr.file);
    g_sink = g_sink + static_cast<uint32_t>(fr.line) + fr.func_id + fr.inlined;
  }
}

// Every query on a parsed table; returns the pcs it asked about.
std::vector<uint64_t> exercise(const GoPclntab& t, const FuzzInput& in) {
  g_sink = g_sink + static_cast<int>(t.format()) + t.table_vaddr() + t.text_start() + t.gofunc().value_or(0) +
           t.has_inline_info();

  // The function index, and every query at three pcs of each function.
  const size_t n = std::min(t.function_count(), kMaxFunctions);
  std::vector<std::string> names;
  std::vector<uint64_t> pcs;
  for (size_t i = 0; i < n; i++) {
    GoFunction f = t.function(i);
    touch(f.name);
    if (names.size() < 256) names.emplace_back(f.name);
    touch(mws::target::go_func_name_for_print(f.name));
    pcs.push_back(f.entry);
    if (f.end > f.entry) {
      pcs.push_back(f.entry + f.size() / 2);
      pcs.push_back(f.end - 1);
    }
  }
  touch(t.function(t.function_count()).name);
  touch(t.function(SIZE_MAX).name);

  // Edges: around the table's text, address 0 and the top of the space.
  const uint64_t edges[] = {0, 1, t.text_start(), t.text_start() - 1, t.table_vaddr(), UINT64_MAX, UINT64_MAX - 1,
                            in.probe_pc[0], in.probe_pc[1]};
  pcs.insert(pcs.end(), std::begin(edges), std::end(edges));
  if (t.function_count() > 0) {
    GoFunction last = t.function(t.function_count() - 1);
    pcs.push_back(last.end);
    pcs.push_back(last.end - 1);
  }
  for (uint64_t pc : pcs) query_pc(t, pc);

  // The name index: built on the first call.
  for (const auto& name : names) {
    if (auto f = t.function_by_name(name)) touch(f->name);
  }
  for (std::string_view name : {"runtime.mallocgc", "", "main.main"}) {
    if (auto f = t.function_by_name(name)) touch(f->name);
  }
  return pcs;
}

// The symbolizer: wrapper detection over the whole table, then frames.
void symbolize(GoSymbolizer& sym, const std::vector<uint64_t>& pcs) {
  for (size_t i = 0; i < pcs.size() && i < kMaxSymbolizedPcs; i++) {
    for (const auto& fr : sym.symbolize(pcs[i])) {
      touch(fr.function);
      touch(fr.file);
    }
  }
}

// The input as the Go linker would lay it out: one PT_LOAD per region and
// one for the table, a PF_X PT_LOAD (no file bytes) at text_fallback,
// section headers .text and .gopclntab (none with flag bit 5), and, when
// gofunc is given, a .symtab whose go.func.* symbol holds it.
std::vector<uint8_t> make_elf(const FuzzInput& in) {
  struct Load {
    uint64_t vaddr;
    const std::vector<uint8_t>* bytes;
    uint32_t flags;
    uint64_t offset = 0;
  };
  std::vector<Load> loads;
  for (const auto& r : in.regions) loads.push_back({r.vaddr, &r.bytes, PF_R | (r.writable ? PF_W : 0u)});
  loads.push_back({in.table_vaddr, &in.table, PF_R});
  const size_t table_load = loads.size() - 1;
  const bool sections = !in.elf_without_section();
  const bool symtab = in.has_gofunc();

  std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + (loads.size() + 1) * sizeof(Elf64_Phdr));
  auto append = [&out](const void* p, size_t n, size_t align) {
    while (out.size() % align) out.push_back(0);
    size_t at = out.size();
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
    return at;
  };
  for (auto& l : loads) l.offset = append(l.bytes->data(), l.bytes->size(), 16);

  // Names: .shstrtab and .strtab.
  std::string shstr("\0.text\0.gopclntab\0.symtab\0.strtab\0.shstrtab\0", 44);
  const std::string strtab = std::string("\0", 1) + (in.elf_colon_gofunc() ? "go:func.*" : "go.func.*") + '\0';
  size_t shstr_off = append(shstr.data(), shstr.size(), 1);
  size_t str_off = append(strtab.data(), strtab.size(), 1);
  Elf64_Sym syms[2] = {};
  syms[1].st_name = 1;
  syms[1].st_info = ELF64_ST_INFO(STB_LOCAL, STT_OBJECT);
  syms[1].st_shndx = SHN_ABS;
  syms[1].st_value = in.gofunc;
  size_t sym_off = append(syms, sizeof syms, 8);

  std::vector<Elf64_Shdr> sh(1);  // SHN_UNDEF
  auto section = [&](uint32_t name, uint32_t type, uint64_t addr, uint64_t off, uint64_t size) -> Elf64_Shdr& {
    Elf64_Shdr s{};
    s.sh_name = name;
    s.sh_type = type;
    s.sh_addr = addr;
    s.sh_offset = off;
    s.sh_size = size;
    s.sh_addralign = 1;
    sh.push_back(s);
    return sh.back();
  };
  if (sections) {
    if (in.text_fallback) section(1, SHT_NOBITS, in.text_fallback, 0, 1).sh_flags = SHF_ALLOC | SHF_EXECINSTR;
    section(7, SHT_PROGBITS, in.table_vaddr, loads[table_load].offset, in.table.size()).sh_flags = SHF_ALLOC;
  }
  if (symtab) {
    const uint32_t strtab_index = static_cast<uint32_t>(sh.size() + 1);
    Elf64_Shdr& s = section(18, SHT_SYMTAB, 0, sym_off, sizeof syms);
    s.sh_link = strtab_index;
    s.sh_info = 1;
    s.sh_entsize = sizeof(Elf64_Sym);
    s.sh_addralign = 8;
    section(26, SHT_STRTAB, 0, str_off, strtab.size());
  }
  const uint16_t shstrndx = static_cast<uint16_t>(sh.size());
  section(34, SHT_STRTAB, 0, shstr_off, shstr.size());
  size_t sh_off = append(sh.data(), sh.size() * sizeof(Elf64_Shdr), 8);

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = in.elf_pie() ? ET_DYN : ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_shoff = sh_off;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<uint16_t>(loads.size() + 1);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = static_cast<uint16_t>(sh.size());
  eh.e_shstrndx = shstrndx;
  std::memcpy(out.data(), &eh, sizeof eh);

  std::vector<Elf64_Phdr> ph;
  Elf64_Phdr text{};
  text.p_type = PT_LOAD;
  text.p_flags = PF_R | PF_X;
  text.p_vaddr = text.p_paddr = in.text_fallback;
  text.p_memsz = 1;
  text.p_align = 0x1000;
  ph.push_back(text);
  for (const auto& l : loads) {
    Elf64_Phdr p{};
    p.p_type = PT_LOAD;
    p.p_flags = l.flags;
    p.p_offset = l.offset;
    p.p_vaddr = p.p_paddr = l.vaddr;
    p.p_filesz = p.p_memsz = l.bytes->size();
    p.p_align = 16;
    ph.push_back(p);
  }
  std::memcpy(out.data() + sizeof eh, ph.data(), ph.size() * sizeof(Elf64_Phdr));
  return out;
}

// make_elf's file, opened as mwscope opens a target's executable.
std::unique_ptr<ElfFile> open_as_elf(const FuzzInput& in) { return mws::fuzz::open_tiny_elf(make_elf(in)); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in = mws::fuzz::decode_fuzz_input({data, size});

  std::vector<MemoryRegion> memory;
  for (const auto& r : in.regions) memory.push_back({r.vaddr, r.bytes, r.writable});

  // The header scan over the regions and over the table placed in memory,
  // as GoPclntab::parse does for a binary without section headers.
  {
    std::vector<MemoryRegion> scan = memory;
    scan.push_back({in.table_vaddr, in.table, false});
    if (auto at = GoPclntab::find_header(scan)) g_sink = g_sink + *at;
  }

  std::string_view version = in.go_version();
  if (auto v = mws::target::parse_go_version(version)) g_sink = g_sink + static_cast<uint64_t>(v->second);

  PclntabImage img;
  img.table = in.table;
  img.table_vaddr = in.table_vaddr;
  img.text_fallback = in.text_fallback;
  if (in.has_gofunc()) img.gofunc = in.gofunc;
  img.memory = memory;
  if (auto parsed = GoPclntab::parse_image(std::move(img), version)) {
    std::vector<uint64_t> pcs = exercise(parsed.value(), in);
    GoSymbolizer sym(std::move(parsed.value()));
    symbolize(sym, pcs);
  } else {
    touch(parsed.error().message);
  }

  if (in.as_elf()) {
    if (auto elf = open_as_elf(in)) {
      if (auto sym = GoSymbolizer::create(*elf, version)) {
        std::vector<uint64_t> pcs = exercise((*sym)->table(), in);
        symbolize(**sym, pcs);
      } else {
        touch(sym.error().message);
      }
    }
  }
  return 0;
}
