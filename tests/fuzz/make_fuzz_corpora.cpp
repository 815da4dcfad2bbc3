// make_fuzz_corpora: seed inputs for the fuzzers of what a target controls
// (issue 26), made at build time from real Go binaries (the test fixtures)
// and from this process's own /proc/self/maps.
//
//   make_fuzz_corpora OUT_DIR GOPCLNTAB_SEED_DIR BINARY...
//
// Writes OUT_DIR/NAME_seeds/ for each fuzzer:
//   buildinfo      each binary's .go.buildinfo, as a section and as a bare segment
//   go_types       type descriptors .typelink lists, with their name
//                  strings, packed into a small .rodata
//   closure_names  each closure name (.funcN) of the binaries' tables, before
//                  a fuzz_gopclntab seed (GOPCLNTAB_SEED_DIR)
//   go_offsets     the runtime.g/m offsets of each binary's DWARF (or its
//                  version's table), with a small image of one parked
//                  goroutine laid out by them
//   proc_maps      /proc/self/maps, and lines with the names targets can give
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "offsets_input.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "target/go_goroutines.h"
#include "target/go_types.h"
#include "target/gopclntab.h"
#include "target/remote_memory.h"
#include "tiny_elf.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;
using mws::target::ElfFile;

namespace {

void write(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                    static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void put(Bytes& b, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof v);
}

Bytes read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void buildinfo_seeds(const fs::path& out, const std::string& stem, const ElfFile& elf) {
  auto s = elf.section(".go.buildinfo");
  if (!s) return;
  auto d = elf.section_data(*s);
  for (uint8_t flag : {1, 0}) {
    Bytes b{flag};
    b.insert(b.end(), d.begin(), d.end());
    write(out, stem + (flag ? ".section" : ".segment"), b);
  }
}

// Real type descriptors and their names, packed: each descriptor (48
// bytes, its name offset rewritten) then its name, from a types base at 0.
void go_types_seeds(const fs::path& out, const std::string& stem, const ElfFile& elf) {
  auto base = elf.find_symbol("runtime.types");
  if (!base) return;
  constexpr size_t kDescriptor = 48, kStrOffset = 40;
  // .typelink: the linker's list of the binary's types, as int32 offsets
  // from the types base (moduledata.typelinks).
  auto typelink = elf.section(".typelink");
  if (!typelink) return;
  auto links = elf.section_data(*typelink);
  std::vector<uint64_t> types;
  for (size_t i = 0; i + 4 <= links.size(); i += 4) {
    int32_t off;
    std::memcpy(&off, links.data() + i, 4);
    if (off > 0) types.push_back(base->value + uint64_t(off));
  }
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  size_t written = 0;
  for (size_t first = 0; first < types.size() && written < 8; first += 16) {
    Bytes rodata(16, 0), header;
    std::vector<uint32_t> at;
    for (size_t i = first; i < types.size() && i < first + 16; i++) {
      auto d = elf.read_vaddr(types[i], kDescriptor);
      if (d.size() != kDescriptor) continue;
      int32_t off;
      std::memcpy(&off, d.data() + kStrOffset, 4);
      if (off <= 0) continue;
      auto name = elf.read_vaddr(base->value + uint64_t(off), 4);
      if (name.size() < 4) continue;
      size_t pos = 1;
      uint64_t len = 0;
      for (int shift = 0; pos < name.size(); shift += 7) {
        len |= uint64_t(name[pos] & 0x7f) << shift;
        if (!(name[pos++] & 0x80)) break;
      }
      if (len == 0 || len > 4096) continue;
      auto full = elf.read_vaddr(base->value + uint64_t(off), pos + len);
      if (full.size() != pos + len) continue;
      while (rodata.size() % 8) rodata.push_back(0);
      const size_t d_at = rodata.size();
      rodata.insert(rodata.end(), d.begin(), d.end());
      const int32_t n_off = static_cast<int32_t>(rodata.size());
      std::memcpy(rodata.data() + d_at + kStrOffset, &n_off, 4);
      rodata.insert(rodata.end(), full.begin(), full.end());
      at.push_back(static_cast<uint32_t>(d_at));
    }
    if (at.empty()) continue;
    // A seed names real types, as the harness lays it out.
    auto tiny = mws::fuzz::open_tiny_elf(mws::fuzz::make_tiny_elf({{".rodata", 0x400000, rodata.data(), rodata.size(), false}}));
    if (!tiny) continue;
    mws::target::GoTypeNamer namer(*tiny, 0x400000);
    size_t named = 0;
    for (uint32_t d : at) named += namer.name(0x400000 + d, 0) != "(unknown type)";
    if (named == 0) continue;
    Bytes b;
    put<uint32_t>(b, 0);
    put<uint8_t>(b, static_cast<uint8_t>(at.size()));
    for (size_t i = 0; i < at.size(); i++) {
      put<uint32_t>(b, at[i]);
      put<uint64_t>(b, i % 2 ? 4096 : 0);  // some allocations of several elements: "[]T"
    }
    b.insert(b.end(), rodata.begin(), rodata.end());
    write(out, stem + "." + std::to_string(written++), b);
  }
}

void closure_name_seeds(const fs::path& out, const std::string& stem, const ElfFile& elf,
                        const std::vector<Bytes>& tables) {
  auto info = mws::target::read_go_buildinfo(elf);
  auto table = mws::target::GoPclntab::parse(elf, info ? info->version : "");
  if (!table) return;
  size_t n = 0;
  for (size_t i = 0; i < table->function_count() && n < 24; i++) {
    const std::string name(table->function(i).name);
    if (name.find(".func") == std::string::npos) continue;
    Bytes b(name.begin(), name.end());
    b.push_back(0);
    if (!tables.empty()) {
      const Bytes& t = tables[n % tables.size()];
      b.insert(b.end(), t.begin(), t.end());
    }
    write(out, stem + "." + std::to_string(n++), b);
  }
}

// One goroutine parked two frames deep, laid out by `g`'s offsets: allgs
// header, allm (0), the allgs array, the g, its stack.
Bytes parked_goroutine_image(const mws::target::GoRuntimeOffsets& g) {
  const uint64_t base = mws::fuzz::kImageBase;
  const uint64_t array = 64, gaddr = 128, glen = 512, stack = gaddr + glen, stack_len = 256;
  Bytes img(stack + stack_len, 0);
  auto at = [&](uint64_t off, uint64_t v, size_t len = 8) {
    if (off + len <= img.size()) std::memcpy(img.data() + off, &v, len);
  };
  at(0, base + array);
  at(8, 1);
  at(16, 1);
  at(array, base + gaddr);
  at(gaddr, base + stack);
  at(gaddr + 8, base + stack + stack_len);
  auto field = [&](int64_t off, uint64_t v, size_t len = 8) {
    if (off >= 0 && uint64_t(off) + len <= glen) at(gaddr + uint64_t(off), v, len);
  };
  field(g.g_atomicstatus, mws::target::kGoStatusWaiting, 4);
  field(g.g_goid, 7);
  field(g.g_startpc, 0x401000);
  field(g.g_gopc, 0x402000);
  field(g.g_sched_pc, 0x403000);
  field(g.g_sched_sp, base + stack);
  field(g.g_sched_bp, base + stack + 16);
  at(stack + 16, base + stack + 64);  // frame: caller's bp, return address
  at(stack + 24, 0x404000);
  at(stack + 64, 0);
  at(stack + 72, 0x405000);
  return img;
}

void go_offsets_seeds(const fs::path& out, const std::string& stem, const ElfFile& elf) {
  auto info = mws::target::read_go_buildinfo(elf);
  auto g = mws::target::go_offsets_from_dwarf(elf);
  if (!g && info) g = mws::target::go_offsets_from_table(info->version);
  if (!g) return;
  mws::target::GoMOffsets m;
  if (auto dm = mws::target::go_m_offsets_from_dwarf(elf)) m = *dm;
  // A seed holds one parked goroutine that the reader finds, with its stack.
  class Image : public mws::target::MemorySource {
   public:
    explicit Image(Bytes b) : b_(std::move(b)) {}
    bool read(uint64_t addr, void* out, size_t len) const override {
      const uint64_t base = mws::fuzz::kImageBase;
      if (addr < base || len > b_.size() || addr - base > b_.size() - len) return false;
      std::memcpy(out, b_.data() + (addr - base), len);
      return true;
    }
    Bytes b_;
  };
  const Bytes image = parked_goroutine_image(*g);
  auto gs = mws::target::read_live_goroutines(mws::target::RemoteMemory(std::make_shared<Image>(image)),
                                              mws::fuzz::kImageBase, *g, true);
  if (!gs || gs->size() != 1 || (*gs)[0].stack.size() != 3) {
    std::fprintf(stderr, "make_fuzz_corpora: %s: the seed's goroutine does not read back\n", stem.c_str());
    return;
  }
  write(out, stem, mws::fuzz::encode_offsets_input(*g, m, image));
}

void proc_maps_seeds(const fs::path& out) {
  std::ifstream in("/proc/self/maps");
  const std::string self((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write(out, "self", Bytes(self.begin(), self.end()));
  const std::string odd =
      "00400000-00452000 r-xp 00000000 08:02 173521 /srv/app\\012name (deleted)\n"
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
      "7f0000001000-7f0000002000 r-xp 00001000 fd:01 99 /lib/x86_64-linux-gnu/libc.so.6\x1b[2J\n"
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";
  write(out, "odd", Bytes(odd.begin(), odd.end()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_fuzz_corpora OUT_DIR GOPCLNTAB_SEED_DIR BINARY...\n");
    return 2;
  }
  const fs::path out = argv[1];
  std::vector<Bytes> tables;
  if (fs::is_directory(argv[2]))
    for (const auto& e : fs::directory_iterator(argv[2])) {
      if (tables.size() >= 8) break;
      if (e.is_regular_file() && e.file_size() <= 16 * 1024) tables.push_back(read_all(e.path()));
    }
  for (const char* dir : {"buildinfo", "go_types", "closure_names", "go_offsets", "proc_maps"})
    fs::remove_all(out / (std::string(dir) + "_seeds"));
  for (int i = 3; i < argc; i++) {
    auto elf = ElfFile::open(argv[i]);
    if (!elf) {
      std::fprintf(stderr, "make_fuzz_corpora: %s\n", elf.error().message.c_str());
      return 1;
    }
    // go1.27/allocserver -> go1.27_allocserver: the matrix builds share names.
    const fs::path path = fs::path(argv[i]);
    const std::string stem = path.parent_path().filename().string() + "_" + path.filename().string();
    buildinfo_seeds(out / "buildinfo_seeds", stem, **elf);
    go_types_seeds(out / "go_types_seeds", stem, **elf);
    closure_name_seeds(out / "closure_names_seeds", stem, **elf, tables);
    go_offsets_seeds(out / "go_offsets_seeds", stem, **elf);
  }
  proc_maps_seeds(out / "proc_maps_seeds");
  for (const char* dir : {"buildinfo", "go_types", "closure_names", "go_offsets", "proc_maps"}) {
    const fs::path d = out / (std::string(dir) + "_seeds");
    const auto n = fs::is_directory(d) ? std::distance(fs::directory_iterator(d), fs::directory_iterator()) : 0;
    std::printf("%s: %ld seeds\n", dir, static_cast<long>(n));
    if (n == 0) return 1;  // a corpus that cannot be seeded is a broken build, not a quiet one
  }
  return 0;
}
