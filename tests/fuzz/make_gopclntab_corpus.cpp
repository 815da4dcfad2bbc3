// make_gopclntab_corpus: seed inputs for fuzz_gopclntab, made from real Go
// binaries (the test fixtures) at build time.
//
//   make_gopclntab_corpus SEED_DIR FULL_DIR BINARY...
//
// SEED_DIR gets small tables: windows of a few consecutive functions of
// each binary's .gopclntab, re-encoded in each table format the reader
// knows (Go 1.16, 1.18, 1.20) with their real names, files, pc tables and
// inline trees. Small inputs keep the fuzzer fast; the three encodings let
// one Go toolchain seed every format. FULL_DIR gets each binary's whole
// table with its loaded segments as memory (replayed once by CTest).
//
// The decoder below reads Go 1.18+ tables only (what the fixtures are built
// with); it trusts its input, which comes from the Go linker.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pclntab_input.h"
#include "target/elf_file.h"
#include "target/gopclntab.h"

namespace fs = std::filesystem;
using mws::fuzz::FuzzInput;
using mws::fuzz::FuzzRegion;
using mws::target::ElfFile;
using mws::target::GoPclntab;
using Bytes = std::vector<uint8_t>;

namespace {

enum class Fmt { k116, k118, k120 };

constexpr uint32_t kPcdataInlTreeIndex = 2;
constexpr uint8_t kFuncdataInlTree = 3;
constexpr size_t kMaxSeedBytes = 64 * 1024;

uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t rd64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
template <typename T>
void put(Bytes& b, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof v);
}
template <typename T>
void put_at(Bytes& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}
void align(Bytes& b, size_t a) {
  while (b.size() % a) b.push_back(0);
}

// ------------------------------------------------------------ the model

struct InlineCall {
  int16_t parent = 0;
  uint8_t func_id = 0;
  int32_t file = 0, line = 0, start_line = 0, parent_pc = 0;
  std::string name;
};

struct Func {
  uint64_t entry = 0;
  std::string name;
  int32_t args = 0, start_line = 0;
  uint32_t deferreturn = 0;
  uint8_t func_id = 0, flag = 0, nfuncdata = 0;
  Bytes pcsp, pcfile, pcln;        // empty: no table
  std::vector<Bytes> pcdata;       // empty entry: no table
  std::vector<std::optional<std::string>> files;  // the files pcfile indexes (nullopt: no file)
  std::vector<InlineCall> inlined;  // the inline tree (FUNCDATA_InlTree), if any
  bool has_inline_tree = false;
};

// ------------------------------------------------------------ decoding

class RealTable {
 public:
  static std::optional<RealTable> open(const ElfFile& elf) {
    auto sec = elf.section(".gopclntab");
    if (!sec) return std::nullopt;
    RealTable t;
    t.elf_ = &elf;
    t.tab_ = elf.section_data(*sec);
    t.vaddr_ = sec->addr;
    if (t.tab_.size() < 72) return std::nullopt;
    uint32_t magic = rd32(t.tab_.data());
    if (magic == 0xfffffff0) t.fmt_ = Fmt::k118;
    else if (magic == 0xfffffff1) t.fmt_ = Fmt::k120;
    else return std::nullopt;  // Go 1.16/1.17 fixtures are not decoded here
    t.nfunc_ = rd64(t.tab_.data() + 8);
    t.text_ = rd64(t.tab_.data() + 24);
    for (int i = 0; i < 5; i++) t.off_[i] = rd64(t.tab_.data() + 32 + 8 * i);
    auto parsed = GoPclntab::parse(elf);
    if (!parsed || !parsed.value().gofunc()) return std::nullopt;
    t.gofunc_ = *parsed.value().gofunc();
    t.text_ = parsed.value().text_start();  // the header's is 0 in PIE binaries
    return t;
  }

  size_t nfunc() const { return nfunc_; }
  uint64_t entry(size_t i) const { return text_ + rd32(pcln() + i * 8); }

  Func func(size_t i) const {
    const uint8_t* p = pcln() + rd32(pcln() + i * 8 + 4);
    const bool v120 = fmt_ == Fmt::k120;
    Func f;
    f.entry = entry(i);
    f.name = cstring(off_[0], static_cast<int32_t>(rd32(p + 4)));
    f.args = static_cast<int32_t>(rd32(p + 8));
    f.deferreturn = rd32(p + 12);
    f.pcsp = pctable(rd32(p + 16));
    f.pcfile = pctable(rd32(p + 20));
    f.pcln = pctable(rd32(p + 24));
    uint32_t npcdata = rd32(p + 28);
    uint32_t cu = rd32(p + 32);
    if (v120) f.start_line = static_cast<int32_t>(rd32(p + 36));
    const uint8_t* tail = p + (v120 ? 40 : 36);
    f.func_id = tail[0];
    f.flag = tail[1];
    f.nfuncdata = tail[3];
    const uint8_t* pcd = p + (v120 ? 44 : 40);
    for (uint32_t k = 0; k < npcdata; k++) f.pcdata.push_back(pctable(rd32(pcd + 4 * k)));

    int32_t max_file = max_value(f.pcfile);
    for (int32_t k = 0; k <= max_file; k++) {
      uint32_t fo = rd32(tab_.data() + off_[1] + (uint64_t(cu) + k) * 4);
      if (fo == UINT32_MAX) f.files.push_back(std::nullopt);
      else f.files.push_back(cstring(off_[2], static_cast<int32_t>(fo)));
    }

    const uint8_t* fd = pcd + 4 * npcdata;
    if (f.nfuncdata > kFuncdataInlTree && npcdata > kPcdataInlTreeIndex) {
      uint32_t off = rd32(fd + 4 * kFuncdataInlTree);
      if (off != UINT32_MAX) {
        f.has_inline_tree = true;
        int32_t max_ix = max_value(f.pcdata[kPcdataInlTreeIndex]);
        const uint64_t rec = v120 ? 16 : 20;
        auto bytes = elf_->read_vaddr(gofunc_ + off, rec * uint64_t(max_ix + 1));
        for (int32_t k = 0; k <= max_ix && bytes.size() >= rec * uint64_t(k + 1); k++) {
          const uint8_t* r = bytes.data() + rec * k;
          InlineCall c;
          if (v120) {
            c.func_id = r[0];
            c.name = cstring(off_[0], static_cast<int32_t>(rd32(r + 4)));
            c.parent_pc = static_cast<int32_t>(rd32(r + 8));
            c.start_line = static_cast<int32_t>(rd32(r + 12));
          } else {
            int16_t parent;
            std::memcpy(&parent, r, 2);
            c.parent = parent;
            c.func_id = r[2];
            c.file = static_cast<int32_t>(rd32(r + 4));
            c.line = static_cast<int32_t>(rd32(r + 8));
            c.name = cstring(off_[0], static_cast<int32_t>(rd32(r + 12)));
            c.parent_pc = static_cast<int32_t>(rd32(r + 16));
          }
          f.inlined.push_back(c);
        }
      }
    }
    return f;
  }

  // Full-table seed: the section as is, the loaded segments as memory.
  FuzzInput full_input() const {
    FuzzInput in;
    in.flags = 0x10;  // no gofunc: the reader finds moduledata itself; also as an ELF file
    in.table_vaddr = vaddr_;
    in.probe_pc[0] = entry(nfunc_ / 2) + 1;
    in.probe_pc[1] = entry(nfunc_ - 1) + 1;
    auto file = elf_->bytes();
    for (const auto& seg : elf_->load_segments()) {
      if (in.regions.size() == mws::fuzz::kFuzzMaxRegions || seg.offset >= file.size()) continue;
      size_t len = std::min<uint64_t>(seg.filesz, file.size() - seg.offset);
      FuzzRegion r;
      r.vaddr = seg.vaddr;
      r.writable = seg.flags & 2u;
      r.bytes.assign(file.begin() + seg.offset, file.begin() + seg.offset + len);
      in.regions.push_back(std::move(r));
    }
    in.table.assign(tab_.begin(), tab_.end());
    return in;
  }

 private:
  const uint8_t* pcln() const { return tab_.data() + off_[4]; }
  std::string cstring(uint64_t base, int32_t off) const {
    if (off < 0 || base + off >= tab_.size()) return {};
    const char* s = reinterpret_cast<const char*>(tab_.data() + base + off);
    return std::string(s, strnlen(s, tab_.size() - base - off));
  }
  // The bytes of the pc-value table at `off` in pctab, with its end marker.
  Bytes pctable(uint32_t off) const {
    if (off == 0) return {};
    const uint8_t* start = tab_.data() + off_[3] + off;
    const uint8_t* p = start;
    auto skip_varint = [&] {
      while (*p++ & 0x80) {
      }
    };
    bool first = true;
    while (first || *p != 0) {
      skip_varint();
      skip_varint();
      first = false;
    }
    return Bytes(start, p + 1);
  }
  // The largest value a pc-value table takes (-1 for none).
  static int32_t max_value(const Bytes& t) {
    if (t.empty()) return -1;
    const uint8_t* p = t.data();
    auto varint = [&] {
      uint32_t v = 0, shift = 0;
      uint8_t b;
      do {
        b = *p++;
        v |= uint32_t(b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80);
      return v;
    };
    int32_t val = -1, max = -1;
    bool first = true;
    while (first || *p != 0) {
      uint32_t uv = varint();
      val += static_cast<int32_t>(-(uv & 1) ^ (uv >> 1));
      varint();
      max = std::max(max, val);
      first = false;
    }
    return std::min(max, 4096);
  }

  const ElfFile* elf_ = nullptr;
  std::span<const uint8_t> tab_;
  uint64_t vaddr_ = 0, text_ = 0, gofunc_ = 0, nfunc_ = 0;
  uint64_t off_[5] = {};
  Fmt fmt_ = Fmt::k118;
};

// ------------------------------------------------------------ encoding

struct EncodeOptions {
  Fmt fmt = Fmt::k118;
  bool gofunc_in_header = true;  // else a moduledata region tells the reader
  bool pie = false;              // header textStart 0, text_fallback set
  uint8_t version = 0;           // index into kFuzzGoVersions
  uint8_t elf_flags = 0;         // bits 4-7 of FuzzInput::flags: the ELF-file variant
};

// A table holding `funcs` (sorted, consecutive), the last one ending at `end`.
FuzzInput encode(const std::vector<Func>& funcs, uint64_t end, const EncodeOptions& o) {
  constexpr uint64_t kTableVaddr = 0x4c0000, kGofuncVaddr = 0x480000, kModuleVaddr = 0x5a0000;
  const bool v116 = o.fmt == Fmt::k116, v120 = o.fmt == Fmt::k120;
  const uint64_t text = funcs.front().entry;

  Bytes names, cutab, filetab, pctab{0}, inl;  // pctab offset 0 means "no table"
  std::map<std::string, uint32_t> name_off, file_off;
  auto name = [&](const std::string& s) {
    auto [it, fresh] = name_off.emplace(s, static_cast<uint32_t>(names.size()));
    if (fresh) names.insert(names.end(), s.c_str(), s.c_str() + s.size() + 1);
    return it->second;
  };
  auto file = [&](const std::string& s) {
    auto [it, fresh] = file_off.emplace(s, static_cast<uint32_t>(filetab.size()));
    if (fresh) filetab.insert(filetab.end(), s.c_str(), s.c_str() + s.size() + 1);
    return it->second;
  };
  auto pc = [&](const Bytes& t) -> uint32_t {
    if (t.empty()) return 0;
    uint32_t off = static_cast<uint32_t>(pctab.size());
    pctab.insert(pctab.end(), t.begin(), t.end());
    return off;
  };

  struct Encoded {
    uint32_t nameoff, pcsp, pcfile, pcln, cu;
    std::vector<uint32_t> pcdata;
    std::optional<uint32_t> inl_off;
  };
  std::vector<Encoded> enc;
  uint32_t nfiles = 0;
  for (const auto& f : funcs) {
    Encoded e;
    e.nameoff = name(f.name);
    e.pcsp = pc(f.pcsp);
    e.pcfile = pc(f.pcfile);
    e.pcln = pc(f.pcln);
    for (const auto& t : f.pcdata) e.pcdata.push_back(pc(t));
    e.cu = static_cast<uint32_t>(cutab.size() / 4);
    for (const auto& fl : f.files) put<uint32_t>(cutab, fl ? file(*fl) : UINT32_MAX);
    nfiles += static_cast<uint32_t>(f.files.size());
    if (f.has_inline_tree) {
      align(inl, 8);
      e.inl_off = static_cast<uint32_t>(inl.size());
      for (const auto& c : f.inlined) {
        if (v120) {
          put<uint8_t>(inl, c.func_id);
          put<uint8_t>(inl, 0), put<uint16_t>(inl, 0);
          put<int32_t>(inl, static_cast<int32_t>(name(c.name)));
          put<int32_t>(inl, c.parent_pc);
          put<int32_t>(inl, c.start_line);
        } else {
          put<int16_t>(inl, c.parent);
          put<uint8_t>(inl, c.func_id);
          put<uint8_t>(inl, 0);
          put<int32_t>(inl, c.file);
          put<int32_t>(inl, c.line);
          put<int32_t>(inl, static_cast<int32_t>(name(c.name)));
          put<int32_t>(inl, c.parent_pc);
        }
      }
    }
    enc.push_back(std::move(e));
  }
  if (inl.empty()) inl.push_back(0);

  // functab: the index, then the _func records.
  const size_t n = funcs.size();
  Bytes ftab;
  const size_t slot = v116 ? 16 : 8;
  ftab.resize((n + 1) * slot);
  for (size_t i = 0; i < n; i++) {
    const Func& f = funcs[i];
    const Encoded& e = enc[i];
    align(ftab, 8);
    uint32_t funcoff = static_cast<uint32_t>(ftab.size());
    if (v116) {
      put_at<uint64_t>(ftab, i * 16, f.entry);
      put_at<uint64_t>(ftab, i * 16 + 8, funcoff);
      put<uint64_t>(ftab, f.entry);
    } else {
      put_at<uint32_t>(ftab, i * 8, static_cast<uint32_t>(f.entry - text));
      put_at<uint32_t>(ftab, i * 8 + 4, funcoff);
      put<uint32_t>(ftab, static_cast<uint32_t>(f.entry - text));
    }
    put<int32_t>(ftab, static_cast<int32_t>(e.nameoff));
    put<int32_t>(ftab, f.args);
    put<uint32_t>(ftab, f.deferreturn);
    put<uint32_t>(ftab, e.pcsp);
    put<uint32_t>(ftab, e.pcfile);
    put<uint32_t>(ftab, e.pcln);
    put<uint32_t>(ftab, static_cast<uint32_t>(e.pcdata.size()));
    put<uint32_t>(ftab, e.cu);
    if (v120) put<int32_t>(ftab, f.start_line);
    put<uint8_t>(ftab, f.func_id);
    put<uint8_t>(ftab, v116 ? 0 : f.flag);
    put<uint8_t>(ftab, 0);
    put<uint8_t>(ftab, f.nfuncdata);
    for (uint32_t p : e.pcdata) put<uint32_t>(ftab, p);
    if (v116) {
      align(ftab, 8);  // funcdata pointers are 8-aligned (table and functab are)
      for (uint8_t k = 0; k < f.nfuncdata; k++)
        put<uint64_t>(ftab, k == kFuncdataInlTree && e.inl_off ? kGofuncVaddr + *e.inl_off : 0);
    } else {
      for (uint8_t k = 0; k < f.nfuncdata; k++)
        put<uint32_t>(ftab, k == kFuncdataInlTree && e.inl_off ? *e.inl_off : UINT32_MAX);
    }
  }
  if (v116) {
    put_at<uint64_t>(ftab, n * 16, end);
  } else {
    put_at<uint32_t>(ftab, n * 8, static_cast<uint32_t>(end - text));
  }

  // The header and the sub-tables, in the linker's order.
  Bytes t;
  put<uint32_t>(t, v116 ? 0xfffffffa : v120 ? 0xfffffff1 : 0xfffffff0);
  put<uint8_t>(t, 0), put<uint8_t>(t, 0), put<uint8_t>(t, 1), put<uint8_t>(t, 8);
  put<uint64_t>(t, n);
  put<uint64_t>(t, nfiles);
  if (!v116) put<uint64_t>(t, o.pie ? 0 : text);
  size_t offs_at = t.size();
  t.resize(t.size() + 5 * 8);
  uint64_t offs[5];
  offs[0] = t.size();
  t.insert(t.end(), names.begin(), names.end());
  offs[1] = t.size();
  t.insert(t.end(), cutab.begin(), cutab.end());
  offs[2] = t.size();
  t.insert(t.end(), filetab.begin(), filetab.end());
  offs[3] = t.size();
  t.insert(t.end(), pctab.begin(), pctab.end());
  align(t, 8);
  offs[4] = t.size();
  t.insert(t.end(), ftab.begin(), ftab.end());
  for (int i = 0; i < 5; i++) put_at<uint64_t>(t, offs_at + 8 * i, offs[i]);

  FuzzInput in;
  in.flags = static_cast<uint8_t>((o.gofunc_in_header && !v116 ? 1 : 0) | (o.version << 1) | o.elf_flags);
  in.table_vaddr = kTableVaddr;
  in.text_fallback = o.pie ? text : 0;
  in.gofunc = kGofuncVaddr;
  in.probe_pc[0] = funcs.front().entry + 1;
  in.probe_pc[1] = end;
  in.regions.push_back({kGofuncVaddr, false, inl});
  if (!v116 && !o.gofunc_in_header) {
    Bytes md(336, 0);  // runtime.moduledata, the fields the reader checks
    put_at<uint64_t>(md, 0, kTableVaddr);
    put_at<uint64_t>(md, 8, kTableVaddr + offs[0]);
    put_at<uint64_t>(md, 104, kTableVaddr + offs[4]);
    put_at<uint64_t>(md, 128, kTableVaddr + offs[4]);
    put_at<uint64_t>(md, v120 ? 320 : 304, kGofuncVaddr);
    in.regions.push_back({kModuleVaddr, true, md});
  }
  in.table = std::move(t);
  return in;
}

bool write_file(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SEED_DIR FULL_DIR GO_BINARY...\n", argv[0]);
    return 2;
  }
  const fs::path seed_dir = argv[1], full_dir = argv[2];
  for (const auto& d : {seed_dir, full_dir}) {
    fs::create_directories(d);
    for (const auto& e : fs::directory_iterator(d)) fs::remove(e.path());
  }
  size_t seeds = 0;
  for (int a = 3; a < argc; a++) {
    const std::string path = argv[a];
    const std::string base = fs::path(path).filename();
    auto elf = ElfFile::open(path);
    if (!elf) {
      std::fprintf(stderr, "make_gopclntab_corpus: %s\n", elf.error().message.c_str());
      return 1;
    }
    auto table = RealTable::open(**elf);
    if (!table) {
      std::fprintf(stderr, "make_gopclntab_corpus: %s: no Go 1.18+ .gopclntab with moduledata.gofunc\n", path.c_str());
      return 1;
    }
    if (!write_file(full_dir / (base + ".full"), mws::fuzz::encode_fuzz_input(table->full_input()))) return 1;

    // Windows: spread over the table, around functions with the deepest
    // inline trees, at generic functions, at functions with inlined
    // wrappers (plus one physical wrapper, so the window's largest funcID is
    // the wrapper's, as GoSymbolizer expects), and at the table's end.
    const size_t n = table->nfunc();
    struct Window {
      size_t start, len;
      std::optional<size_t> wrapper;  // a function appended after the window
    };
    std::vector<Window> windows;
    for (size_t k = 0; k < 24; k++) windows.push_back({k * n / 24, 3 + k % 8, {}});
    std::vector<Func> all;
    int wrapper_id = 0;
    for (size_t i = 0; i < n; i++) {
      all.push_back(table->func(i));
      wrapper_id = std::max<int>(wrapper_id, all.back().func_id);
    }
    std::vector<std::pair<size_t, size_t>> deep;  // (inline calls, index)
    std::vector<size_t> generic, inlined_wrappers;
    for (size_t i = 0; i < n; i++) {
      const Func& f = all[i];
      if (f.inlined.size() >= 2) deep.emplace_back(f.inlined.size(), i);
      if (f.name.find('[') != std::string::npos) generic.push_back(i);
      for (const auto& c : f.inlined)
        if (c.func_id == wrapper_id) {
          inlined_wrappers.push_back(i);
          break;
        }
    }
    std::sort(deep.rbegin(), deep.rend());
    for (size_t k = 0; k < deep.size() && k < 16; k++) windows.push_back({deep[k * deep.size() / 16].second, 3 + k % 8, {}});
    for (size_t k = 0; k < generic.size() && k < 3; k++) windows.push_back({generic[k * generic.size() / 3], 2, {}});
    for (size_t k = 0; k < inlined_wrappers.size() && k < 4; k++) {
      size_t i = inlined_wrappers[k * inlined_wrappers.size() / 4];
      std::optional<size_t> wrapper;
      for (size_t j = i + 1; j < n && !wrapper; j++)
        if (all[j].func_id == wrapper_id) wrapper = j;
      if (wrapper) windows.push_back({i, 1, wrapper});
    }
    windows.push_back({n > 6 ? n - 6 : 0, 6, {}});

    size_t w = 0;
    for (Window win : windows) {
      if (win.start > 0 && w % 3 == 0 && !win.wrapper) win.start--;
      win.len = std::min(win.len, n - win.start);
      std::vector<Func> funcs(all.begin() + win.start, all.begin() + win.start + win.len);
      size_t last = win.start + win.len - 1;
      if (win.wrapper) {
        funcs.push_back(all[*win.wrapper]);
        last = *win.wrapper;
      }
      const uint64_t end = table->entry(last + 1);  // entry(n): the end of the text
      for (Fmt fmt : {Fmt::k116, Fmt::k118, Fmt::k120}) {
        EncodeOptions o;
        o.fmt = fmt;
        o.gofunc_in_header = w % 2 == 0;
        o.pie = fmt != Fmt::k116 && w % 4 == 1;
        const uint8_t matching = fmt == Fmt::k116 ? 1 : fmt == Fmt::k118 ? 2 : 3;
        o.version = w % 3 == 2 ? 0 : matching;
        if (w % 4 == 3) {  // also as an ELF file: sections or not, PIE or not
          o.elf_flags = 0x10 | (w % 8 == 7 ? 0x20 : 0) | (w % 8 == 3 ? 0x40 : 0) | (fmt == Fmt::k120 ? 0x80 : 0);
        }
        Bytes b = mws::fuzz::encode_fuzz_input(encode(funcs, end, o));
        if (b.size() > kMaxSeedBytes) continue;
        char name[96];
        std::snprintf(name, sizeof name, "%s-%03zu-go1%d", base.c_str(), w,
                      fmt == Fmt::k116 ? 16 : fmt == Fmt::k118 ? 18 : 20);
        if (!write_file(seed_dir / name, b)) return 1;
        seeds++;
      }
      w++;
    }
  }
  std::printf("make_gopclntab_corpus: %zu seeds in %s, %d full tables in %s\n", seeds, seed_dir.c_str(), argc - 3,
              full_dir.c_str());
  return 0;
}
