// Layouts follow Go's runtime/symtab.go, runtime/runtime2.go (_func),
// runtime/symtabinl.go (1.21+) and cmd/link/internal/ld/pcln.go of each
// version; see gopclntab.h for the formats.
#include "target/gopclntab.h"

#include "util/bytes.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

namespace mws::target {
namespace {

constexpr uint32_t kMagic116 = 0xfffffffa;
constexpr uint32_t kMagic118 = 0xfffffff0;
constexpr uint32_t kMagic120 = 0xfffffff1;

constexpr uint32_t kPcdataInlTreeIndex = 2;  // PCDATA_InlTreeIndex, stable since Go 1.12
constexpr uint8_t kFuncdataInlTree = 3;      // FUNCDATA_InlTree
constexpr size_t kMaxInlineDepth = 100;      // real trees are < 10 deep

// moduledata field offsets (amd64), from runtime/symtab.go.
constexpr uint64_t kModFuncnametab = 8;    // []byte {ptr, len, cap}
constexpr uint64_t kModPclntable = 104;    // []byte
constexpr uint64_t kModFtab = 128;         // []functab
constexpr uint64_t kModText = 176;         // text uintptr: where function entry offsets count from
constexpr uint64_t kModGofunc118 = 304;    // Go 1.18-1.19
constexpr uint64_t kModGofunc120 = 320;    // Go 1.20+: covctrs, ecovctrs come before `end`
constexpr uint64_t kModMinSize = 328;       // bytes read from a moduledata candidate


std::optional<PclntabFormat> format_of(uint32_t magic) {
  switch (magic) {
    case kMagic116: return PclntabFormat::kGo116;
    case kMagic118: return PclntabFormat::kGo118;
    case kMagic120: return PclntabFormat::kGo120;
    default: return std::nullopt;
  }
}

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

struct HeaderInfo {
  PclntabFormat format;
  uint64_t nfunc = 0;
  uint64_t text_start = 0;
  uint64_t header_size = 0;
  uint64_t off[5] = {};  // funcname, cu, filetab, pctab, pcln
};

// Validates the pcHeader and the offsets of the sub-tables against
// table.size(). Does not look at the function index.
Result<HeaderInfo> read_header(std::span<const uint8_t> table) {
  if (table.size() < 8) return Error{"Go function table is truncated: header needs 8 bytes, have " + std::to_string(table.size())};
  const uint8_t* p = table.data();
  uint32_t magic = le32(p);
  auto fmt_ = format_of(magic);
  if (!fmt_) {
    if (magic == 0xfffffffb)
      return Error{"Go function table is from Go 1.2-1.15 (magic 0xfffffffb): only Go 1.16 and later are supported"};
    return Error{"Go function table has an unknown magic " + hex(magic) + " (supported: Go 1.16 and later)"};
  }
  if (p[4] != 0 || p[5] != 0) return Error{"Go function table header is corrupt: pad bytes are not zero"};
  if (p[6] != 1) return Error{"Go function table header says instruction size " + std::to_string(p[6]) + ", expected 1 (amd64)"};
  if (p[7] != 8) return Error{"Go function table header says pointer size " + std::to_string(p[7]) + ", expected 8 (64-bit)"};
  HeaderInfo h;
  h.format = *fmt_;
  bool has_text = h.format != PclntabFormat::kGo116;
  h.header_size = has_text ? 72 : 64;
  if (table.size() < h.header_size)
    return Error{"Go function table is truncated: header needs " + std::to_string(h.header_size) + " bytes, have " + std::to_string(table.size())};
  h.nfunc = le64(p + 8);
  uint64_t w = 24;
  if (has_text) {
    h.text_start = le64(p + 24);
    w = 32;
  }
  for (int i = 0; i < 5; i++) h.off[i] = le64(p + w + 8 * i);
  uint64_t prev = h.header_size;
  static const char* names[5] = {"funcnametab", "cutab", "filetab", "pctab", "functab"};
  for (int i = 0; i < 5; i++) {
    if (h.off[i] < prev || h.off[i] > table.size())
      return Error{fmt::format("Go function table is corrupt: {} offset {:#x} is outside [{:#x}, {:#x}]", names[i], h.off[i], prev,
                               table.size())};
    prev = h.off[i];
  }
  if (h.nfunc == 0) return Error{"Go function table lists no functions"};
  uint64_t field = has_text ? 4 : 8;
  uint64_t pcln_size = table.size() - h.off[4];
  if (h.nfunc > (1ull << 31) || (2 * h.nfunc + 1) * field > pcln_size)
    return Error{fmt::format("Go function table is corrupt: {} functions do not fit in a functab of {} bytes", h.nfunc, pcln_size)};
  return h;
}

// Offsets of _func fields per format (see runtime2.go of each version).
struct FuncLayout {
  uint64_t header_size, nameoff, pcfile, pcln, npcdata, cu_offset, func_id, nfuncdata;
};
constexpr FuncLayout kLayout116{44, 8, 24, 28, 32, 36, 40, 43};
constexpr FuncLayout kLayout118{40, 4, 20, 24, 28, 32, 36, 39};
constexpr FuncLayout kLayout120{44, 4, 20, 24, 28, 32, 40, 43};

const FuncLayout& layout(PclntabFormat f) {
  switch (f) {
    case PclntabFormat::kGo116: return kLayout116;
    case PclntabFormat::kGo118: return kLayout118;
    default: return kLayout120;
  }
}

}  // namespace

struct GoPclntab::Lazy {
  std::once_flag by_name_once;
  std::unordered_map<std::string_view, uint32_t> by_name;
};

GoPclntab::GoPclntab(GoPclntab&&) noexcept = default;
GoPclntab& GoPclntab::operator=(GoPclntab&&) noexcept = default;
GoPclntab::~GoPclntab() = default;

std::optional<std::pair<int, int>> parse_go_version(std::string_view v) {
  size_t at = v.find("go1.");
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + 4;
  int minor = 0;
  size_t digits = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9' && digits < 4) {
    minor = minor * 10 + (v[i] - '0');
    i++;
    digits++;
  }
  if (digits == 0) return std::nullopt;
  return std::make_pair(1, minor);
}

std::string go_func_name_for_print(std::string_view name) {
  size_t i = name.find('[');
  if (i == std::string_view::npos) return std::string(name);
  size_t j = name.rfind(']');
  if (j == std::string_view::npos || j <= i) return std::string(name);
  std::string out(name.substr(0, i));
  out += "[...]";
  out += name.substr(j + 1);
  return out;
}

// ---------------------------------------------------------------- finding

std::optional<uint64_t> GoPclntab::find_header(std::span<const MemoryRegion> memory,
                                               const std::atomic<bool>* stop) {
  int full_checks = 0;
  uint64_t hits = 0;
  // Read-only regions first: that is where the linker puts the table.
  for (int pass = 0; pass < 2; pass++) {
    for (const auto& r : memory) {
      if (r.writable != (pass == 1)) continue;
      for (uint32_t magic : {kMagic120, kMagic118, kMagic116}) {
        uint8_t pat[8];
        std::memcpy(pat, &magic, 4);
        pat[4] = 0, pat[5] = 0, pat[6] = 1, pat[7] = 8;
        const uint8_t* base = r.bytes.data();
        size_t n = r.bytes.size();
        size_t pos = 0;
        while (pos + 8 <= n) {
          auto* hit = static_cast<const uint8_t*>(memmem(base + pos, n - pos, pat, 8));
          if (!hit) break;
          pos = static_cast<size_t>(hit - base);
          if (stop && hits++ % 1024 == 0 && stop->load(std::memory_order_relaxed)) return std::nullopt;
          // The header alone first (O(1)); only a candidate that passes it
          // costs a walk of its function index, and only so many may.
          if (!read_header(r.bytes.subspan(pos))) {
            pos += 1;
            continue;
          }
          if (++full_checks > kMaxPclntabCandidates) return std::nullopt;
          PclntabImage img;
          img.table = r.bytes.subspan(pos);
          img.table_vaddr = r.vaddr + pos;
          img.gofunc = 0;  // validation only: skip the moduledata search
          // The full check (header, offsets, sorted function index) rejects look-alikes.
          if (parse_image(img)) return img.table_vaddr;
          pos += 1;
        }
      }
    }
  }
  return std::nullopt;
}

namespace {

// Finds go:func.* (1.20+) or go.func.* (1.18-1.19) in a raw .symtab.
std::optional<uint64_t> gofunc_from_symtab(const ElfFile& elf) {
  auto symtab = elf.section(".symtab");
  auto strtab = elf.section(".strtab");
  if (!symtab || !strtab) return std::nullopt;
  auto syms = elf.section_data(*symtab);
  auto strs = elf.section_data(*strtab);
  constexpr size_t kSymSize = 24;  // Elf64_Sym
  for (size_t off = 0; off + kSymSize <= syms.size(); off += kSymSize) {
    uint32_t name = le32(syms.data() + off);
    if (name >= strs.size()) continue;
    const char* s = reinterpret_cast<const char*>(strs.data() + name);
    size_t max = strs.size() - name;
    size_t len = strnlen(s, max);
    if (len == max) continue;
    std::string_view nm(s, len);
    if (nm == "go:func.*" || nm == "go.func.*") return le64(syms.data() + off + 8);
  }
  return std::nullopt;
}

}  // namespace

Result<GoPclntab> GoPclntab::parse(const ElfFile& elf, std::string_view go_version, const std::atomic<bool>* stop) {
  PclntabImage img;
  std::span<const uint8_t> file = elf.bytes();
  for (const auto& seg : elf.load_segments()) {
    if (seg.offset > file.size()) continue;
    uint64_t len = std::min<uint64_t>(seg.filesz, file.size() - seg.offset);
    if (len == 0) continue;
    img.memory.push_back({seg.vaddr, file.subspan(seg.offset, len), (seg.flags & 2u) != 0});  // PF_W
  }
  if (auto text = elf.section(".text")) {
    img.text_fallback = text->addr;
  } else {
    for (const auto& seg : elf.load_segments())
      if (seg.flags & 1u) {  // PF_X
        img.text_fallback = seg.vaddr;
        break;
      }
  }
  auto sec = elf.section(".gopclntab");
  if (sec && sec->addr != 0 && !elf.section_data(*sec).empty()) {
    img.table = elf.section_data(*sec);
    img.table_vaddr = sec->addr;
  } else {
    auto at = find_header(img.memory, stop);
    if (!at)
      return Error{"no Go function table in " + elf.path() +
                   ": no .gopclntab section and no valid pcHeader in its segments (not a Go program, or Go older than 1.16)"};
    for (const auto& r : img.memory)
      if (*at >= r.vaddr && *at < r.vaddr + r.bytes.size()) {
        img.table = r.bytes.subspan(*at - r.vaddr);
        img.table_vaddr = *at;
        break;
      }
  }
  if (elf.has_symtab()) img.gofunc = gofunc_from_symtab(elf);
  auto t = parse_image(std::move(img), go_version);
  if (!t) return Error{elf.path() + ": " + t.error().message};
  return t;
}

Result<GoPclntab> GoPclntab::parse_image(PclntabImage image, std::string_view go_version) {
  GoPclntab t;
  t.image_ = std::move(image);
  auto st = t.init(go_version);
  if (!st) return st.error();
  return t;
}

Status GoPclntab::init(std::string_view go_version) {
  auto h = read_header(image_.table);
  if (!h) return h.error();
  format_ = h->format;
  if (auto v = parse_go_version(go_version)) {
    // The magic decides the layout; the version string can only confirm it.
    int minor = v->second;
    bool agrees = (format_ == PclntabFormat::kGo116 && minor >= 16 && minor <= 17) ||
                  (format_ == PclntabFormat::kGo118 && minor >= 18 && minor <= 19) ||
                  (format_ == PclntabFormat::kGo120 && minor >= 20);
    if (!agrees)
      return Error{fmt::format("Go function table format (magic {}) does not match Go version {}",
                               hex(le32(image_.table.data())), go_version)};
  }
  nfunc_ = static_cast<size_t>(h->nfunc);
  func_header_size_ = layout(format_).header_size;
  auto tab = image_.table;
  funcnametab_ = tab.subspan(h->off[0], h->off[1] - h->off[0]);
  cutab_ = tab.subspan(h->off[1], h->off[2] - h->off[1]);
  filetab_ = tab.subspan(h->off[2], h->off[3] - h->off[2]);
  pctab_ = tab.subspan(h->off[3], h->off[4] - h->off[3]);
  pcln_ = tab.subspan(h->off[4]);
  pcln_vaddr_ = image_.table_vaddr + h->off[4];
  text_start_ = h->text_start != 0 ? h->text_start : text_from_moduledata().value_or(image_.text_fallback);

  // The pc -> function index must be sorted for binary search.
  uint64_t prev = ftab_entry(0);
  for (size_t i = 1; i <= nfunc_; i++) {
    uint64_t e = ftab_entry(i);
    if (e < prev)
      return Error{fmt::format("Go function table is corrupt: function {} starts at {:#x}, before function {} at {:#x}", i, e, i - 1,
                               prev)};
    prev = e;
  }
  if (format_ != PclntabFormat::kGo116 && !image_.gofunc) {
    const uint64_t gofunc_at = format_ == PclntabFormat::kGo118 ? kModGofunc118 : kModGofunc120;
    if (auto md = moduledata()) {
      auto word = read_memory(*md + gofunc_at, 8);
      if (word.size() == 8 && !read_memory(le64(word.data()), 1).empty()) image_.gofunc = le64(word.data());
    }
  }
  lazy_ = std::make_unique<Lazy>();
  return Ok{};
}

std::optional<uint64_t> GoPclntab::moduledata() const {
  if (!moduledata_) moduledata_ = find_moduledata();
  return *moduledata_;
}

// runtime.firstmoduledata starts with a pointer to the pcHeader; its
// funcnametab, pclntable and ftab slices point into the table. Writable
// memory first: it lives in .noptrdata.
// Go 1.27 leaves the header's textStart 0 (so does a PIE binary): the text
// base is moduledata.text. The start of .text is not it when the external
// linker put C code first (cgo): every function would be off by that much.
std::optional<uint64_t> GoPclntab::text_from_moduledata() const {
  auto md = moduledata();
  if (!md) return std::nullopt;
  auto word = read_memory(*md + kModText, 8);
  if (word.size() != 8 || le64(word.data()) == 0) return std::nullopt;  // PIE: relocated at load
  return le64(word.data());
}

std::optional<uint64_t> GoPclntab::find_moduledata() const {
  uint64_t want_names = image_.table_vaddr + (funcnametab_.data() - image_.table.data());
  for (int pass = 0; pass < 2; pass++) {
    for (const auto& r : image_.memory) {
      if (r.writable != (pass == 0)) continue;
      const uint8_t* b = r.bytes.data();
      size_t n = r.bytes.size();
      size_t start = (8 - (r.vaddr & 7)) & 7;
      for (size_t off = start; off + kModMinSize <= n; off += 8) {
        if (le64(b + off) != image_.table_vaddr) continue;
        if (le64(b + off + kModFuncnametab) != want_names) continue;
        if (le64(b + off + kModPclntable) != pcln_vaddr_ || le64(b + off + kModFtab) != pcln_vaddr_) continue;
        return r.vaddr + off;
      }
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- access

std::optional<uint32_t> GoPclntab::u32(std::span<const uint8_t> s, uint64_t off) const {
  if (off > s.size() || s.size() - off < 4) return std::nullopt;
  return le32(s.data() + off);
}

std::optional<uint64_t> GoPclntab::u64(std::span<const uint8_t> s, uint64_t off) const {
  if (off > s.size() || s.size() - off < 8) return std::nullopt;
  return le64(s.data() + off);
}

uint64_t GoPclntab::ftab_entry(size_t i) const {
  if (format_ == PclntabFormat::kGo116) return u64(pcln_, uint64_t(i) * 16).value_or(0);
  return text_start_ + u32(pcln_, uint64_t(i) * 8).value_or(0);
}

uint64_t GoPclntab::ftab_funcoff(size_t i) const {
  if (format_ == PclntabFormat::kGo116) return u64(pcln_, uint64_t(i) * 16 + 8).value_or(UINT64_MAX);
  return u32(pcln_, uint64_t(i) * 8 + 4).value_or(UINT32_MAX);
}

std::string_view GoPclntab::cstring(std::span<const uint8_t> s, uint64_t off) const {
  if (off >= s.size()) return {};
  const char* p = reinterpret_cast<const char*>(s.data() + off);
  const void* nul = std::memchr(p, 0, s.size() - off);
  if (!nul) return {};
  return {p, static_cast<size_t>(static_cast<const char*>(nul) - p)};
}

std::span<const uint8_t> GoPclntab::read_memory(uint64_t vaddr, uint64_t len) const {
  for (const auto& r : image_.memory) {
    if (vaddr < r.vaddr || vaddr - r.vaddr >= r.bytes.size()) continue;
    uint64_t off = vaddr - r.vaddr;
    if (r.bytes.size() - off < len) return {};
    return r.bytes.subspan(off, len);
  }
  return {};
}

std::string_view GoPclntab::name_at(int64_t nameoff) const {
  if (nameoff < 0) return {};
  return cstring(funcnametab_, static_cast<uint64_t>(nameoff));
}

std::optional<GoPclntab::FuncHeader> GoPclntab::func_header(size_t i) const {
  if (i >= nfunc_) return std::nullopt;
  uint64_t off = ftab_funcoff(i);
  if (off > pcln_.size() || pcln_.size() - off < func_header_size_) return std::nullopt;
  const FuncLayout& L = layout(format_);
  const uint8_t* p = pcln_.data() + off;
  FuncHeader f;
  f.offset = off;
  f.entry = format_ == PclntabFormat::kGo116 ? le64(p) : text_start_ + le32(p);
  f.nameoff = static_cast<int32_t>(le32(p + L.nameoff));
  f.pcsp = le32(p + L.pcfile - 4);  // pcsp precedes pcfile in every layout
  f.pcfile = le32(p + L.pcfile);
  f.pcln = le32(p + L.pcln);
  f.npcdata = le32(p + L.npcdata);
  f.cu_offset = le32(p + L.cu_offset);
  f.func_id = p[L.func_id];
  f.nfuncdata = p[L.nfuncdata];
  return f;
}

// Go's pcvalue + step over the whole table at `off`: calls visit(value,
// end) for each run of pcs [previous end, end) that share a value, until
// visit returns false or the table ends. False when the table is malformed.
template <typename Visit>
bool GoPclntab::walk_pcvalue(uint32_t off, uint64_t entry, Visit&& visit) const {
  if (off == 0 || off >= pctab_.size()) return false;
  const uint8_t* p = pctab_.data() + off;
  const uint8_t* end = pctab_.data() + pctab_.size();
  auto varint = [&](uint32_t& v) -> bool {
    uint64_t wide = 0;
    if (!read_uvarint(p, end, wide)) return false;
    v = static_cast<uint32_t>(wide);  // the runtime's pcvalue reads uint32
    return true;
  };
  uint64_t pc = entry;
  int32_t val = -1;
  while (true) {
    if (p >= end) return false;
    bool first = pc == entry;
    if (*p == 0 && !first) return true;  // end of table
    uint32_t uvdelta, pcdelta;
    if (!varint(uvdelta)) return false;
    val = static_cast<int32_t>(static_cast<uint32_t>(val) + (-(uvdelta & 1) ^ (uvdelta >> 1)));
    if (!varint(pcdelta)) return false;
    pc += pcdelta;  // PCQuantum is 1 on amd64
    if (!visit(val, pc)) return true;
  }
}

// The value of the table at `off` for `target`, or -1.
int32_t GoPclntab::pcvalue(uint32_t off, uint64_t entry, uint64_t target) const {
  int32_t found = -1;
  walk_pcvalue(off, entry, [&](int32_t val, uint64_t run_end) {
    if (target < run_end) {
      found = val;
      return false;
    }
    return true;
  });
  return found;
}

int32_t GoPclntab::pcdata(const FuncHeader& f, uint32_t table, uint64_t pc) const {
  if (table >= f.npcdata) return -1;
  auto off = u32(pcln_, f.offset + func_header_size_ + uint64_t(table) * 4);
  if (!off) return -1;
  return pcvalue(*off, f.entry, pc);
}

std::optional<uint64_t> GoPclntab::funcdata(const FuncHeader& f, uint8_t index) const {
  if (index >= f.nfuncdata) return std::nullopt;
  uint64_t base = f.offset + func_header_size_ + uint64_t(f.npcdata) * 4;
  if (format_ == PclntabFormat::kGo116) {
    // Pointers, aligned to 8 in memory.
    if ((pcln_vaddr_ + base) & 4) base += 4;
    auto v = u64(pcln_, base + uint64_t(index) * 8);
    if (!v || *v == 0) return std::nullopt;
    return *v;
  }
  auto off = u32(pcln_, base + uint64_t(index) * 4);
  if (!off || *off == UINT32_MAX || !image_.gofunc) return std::nullopt;
  return *image_.gofunc + *off;
}

GoLine GoPclntab::funcline(const FuncHeader& f, uint64_t pc) const {
  int32_t fileno = pcvalue(f.pcfile, f.entry, pc);
  int32_t line = pcvalue(f.pcln, f.entry, pc);
  if (fileno == -1 || line == -1 || (fileno >= 0 && uint64_t(fileno) >= filetab_.size())) return {};
  GoLine out;
  out.line = line;
  auto fileoff = u32(cutab_, (uint64_t(f.cu_offset) + static_cast<uint32_t>(fileno)) * 4);
  if (fileoff && *fileoff != UINT32_MAX) out.file = cstring(filetab_, *fileoff);
  return out;
}

// ---------------------------------------------------------------- queries

GoFunction GoPclntab::function(size_t i) const {
  GoFunction f;
  if (i >= nfunc_) return f;
  f.index = static_cast<uint32_t>(i);
  f.entry = ftab_entry(i);
  f.end = ftab_entry(i + 1);
  if (auto h = func_header(i)) f.name = name_at(h->nameoff);
  return f;
}

std::optional<GoFunction> GoPclntab::find_function(uint64_t pc) const {
  if (nfunc_ == 0 || pc < ftab_entry(0) || pc >= ftab_entry(nfunc_)) return std::nullopt;
  size_t lo = 0, hi = nfunc_;  // invariant: entry(lo) <= pc < entry(hi)
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (ftab_entry(mid) <= pc)
      lo = mid;
    else
      hi = mid;
  }
  return function(lo);
}

std::optional<int32_t> GoPclntab::sp_delta(uint64_t pc) const {
  if (nfunc_ == 0 || pc < ftab_entry(0) || pc >= ftab_entry(nfunc_)) return std::nullopt;
  size_t lo = 0, hi = nfunc_;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    (ftab_entry(mid) <= pc ? lo : hi) = mid;
  }
  auto f = func_header(lo);
  if (!f) return std::nullopt;
  const int32_t v = pcvalue(f->pcsp, f->entry, pc);
  if (v < 0) return std::nullopt;
  return v;
}

std::optional<GoFunction> GoPclntab::function_by_name(std::string_view name) const {
  std::call_once(lazy_->by_name_once, [this] {
    lazy_->by_name.reserve(nfunc_);
    for (size_t i = 0; i < nfunc_; i++) {
      auto h = func_header(i);
      if (!h) continue;
      auto n = name_at(h->nameoff);
      if (!n.empty()) lazy_->by_name.emplace(n, static_cast<uint32_t>(i));
    }
  });
  auto it = lazy_->by_name.find(name);
  if (it == lazy_->by_name.end()) return std::nullopt;
  return function(it->second);
}

uint8_t GoPclntab::func_id(const GoFunction& f) const {
  auto h = func_header(f.index);
  return h ? h->func_id : 0;
}

std::optional<GoLine> GoPclntab::lines(uint64_t pc) const {
  auto fn = find_function(pc);
  if (!fn) return std::nullopt;
  auto h = func_header(fn->index);
  if (!h) return std::nullopt;
  return funcline(*h, pc);
}

int32_t GoPclntab::inline_index(const GoFunction& f, uint64_t pc) const {
  auto h = func_header(f.index);
  if (!h || !funcdata(*h, kFuncdataInlTree)) return -1;
  return pcdata(*h, kPcdataInlTreeIndex, pc);
}

std::optional<GoPclntab::InlinedCall> GoPclntab::inlined_call(uint64_t tree, int32_t ix) const {
  const bool old_layout = format_ != PclntabFormat::kGo120;
  const uint64_t rec_size = old_layout ? 20 : 16;
  if (ix < 0) return std::nullopt;
  auto rec = read_memory(tree + uint64_t(ix) * rec_size, rec_size);
  if (rec.empty()) return std::nullopt;
  InlinedCall c;
  if (old_layout) {  // {parent int16, funcID uint8, _, file int32, line int32, func_ int32, parentPc int32}
    c.func_id = rec[2];
    c.function = name_at(static_cast<int32_t>(le32(rec.data() + 12)));
    c.parent_pc = static_cast<int32_t>(le32(rec.data() + 16));
  } else {  // {funcID uint8, _ [3]byte, nameOff int32, parentPc int32, startLine int32}
    c.func_id = rec[0];
    c.function = name_at(static_cast<int32_t>(le32(rec.data() + 4)));
    c.parent_pc = static_cast<int32_t>(le32(rec.data() + 8));
  }
  return c;
}

std::vector<GoInlineFrame> GoPclntab::expand(uint64_t pc) const {
  std::vector<GoInlineFrame> out;
  auto fn = find_function(pc);
  if (!fn) return out;
  auto h = func_header(fn->index);
  if (!h) return out;
  auto tree = funcdata(*h, kFuncdataInlTree);

  uint64_t cur = pc;
  int32_t ix = tree ? pcdata(*h, kPcdataInlTreeIndex, cur) : -1;
  std::vector<int32_t> seen;  // tree indices already expanded at this pc
  for (;;) {
    // Some real binaries (Go 1.23+, inlined calls in package-level variable
    // initializers of init functions) have parentPcs that lead back to the
    // same tree entry at pcs that are not call sites; Go's unwinder would
    // loop. Stop at the first repeat and report the physical function.
    if (ix >= 0 && (seen.size() >= kMaxInlineDepth || std::find(seen.begin(), seen.end(), ix) != seen.end())) ix = -1;
    std::optional<InlinedCall> call;
    if (ix >= 0) {
      seen.push_back(ix);
      call = inlined_call(*tree, ix);
    }
    GoInlineFrame fr;
    GoLine ln = funcline(*h, cur);
    fr.file = ln.file;
    fr.line = ln.line;
    if (!call) {
      // The physical function. (Go's runtime treats name offset 0 as "no
      // name", which hides the first function of the table, internal/cpu.
      // Initialize; we give its real name.)
      fr.function = name_at(h->nameoff);
      fr.func_id = h->func_id;
      out.push_back(fr);
      break;
    }
    fr.func_id = call->func_id;
    fr.function = call->function;
    fr.inlined = true;
    out.push_back(fr);
    cur = h->entry + static_cast<uint64_t>(static_cast<int64_t>(call->parent_pc));
    ix = pcdata(*h, kPcdataInlTreeIndex, cur);
  }
  return out;
}

std::vector<std::string_view> GoPclntab::inlined_functions(const GoFunction& f) const {
  std::vector<std::string_view> out;
  auto h = func_header(f.index);
  if (!h) return out;
  auto tree = funcdata(*h, kFuncdataInlTree);
  if (!tree) return out;
  // Every tree index the function's pcs use: one walk of the pcdata table.
  std::set<int32_t> indices;
  if (kPcdataInlTreeIndex < h->npcdata)
    if (auto off = u32(pcln_, h->offset + func_header_size_ + uint64_t(kPcdataInlTreeIndex) * 4))
      walk_pcvalue(*off, h->entry, [&](int32_t ix, uint64_t) {
        if (ix >= 0 && indices.size() < 100000) indices.insert(ix);
        return true;
      });
  for (int32_t ix : indices)
    if (auto call = inlined_call(*tree, ix)) out.push_back(call->function);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mws::target
