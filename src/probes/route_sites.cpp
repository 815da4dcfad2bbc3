#include "probes/route_sites.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "probes/instruction_sites.h"
#include "target/go_abi.h"
#include "target/gopclntab.h"
#include "target/x86_code.h"

namespace mws::probes {
namespace {

// A dispatch function's size is the binary's word (its pclntab or
// .symtab), and the binary may be hostile: the largest of them
// (gorilla's Router.ServeHTTP) is under 1 KiB in every build checked; a
// function claiming more than this is not decoded.
constexpr uint64_t kMaxDispatchBytes = 64 << 10;
// How far after a CALL the first emulated instruction may be (ServeMux
// 1.22-1.27: 2-4 instructions).
constexpr size_t kScanAfterCall = 8;
// How far before a CALL the loads of its arguments may be.
constexpr size_t kScanBeforeCall = 8;

// What the scans need of an instruction, copied out of Capstone's buffer.
struct Insn {
  uint64_t addr = 0;
  uint16_t size = 0;
  unsigned id = X86_INS_INVALID;
  uint8_t bytes[16] = {};
  uint8_t op_count = 0;
  cs_x86_op ops[2] = {};
  std::vector<x86_reg> writes;  // general registers written, as 64-bit names
  std::optional<uint64_t> branch_target;  // direct jmp/jcc/call
  bool writes_to(x86_reg full) const { return std::find(writes.begin(), writes.end(), full) != writes.end(); }
  bool is_call_rel32() const { return id == X86_INS_CALL && size == kCallRel32Bytes && bytes[0] == 0xE8; }
};

struct Function {
  std::string name;
  target::GoFunctionRange range;
  std::vector<Insn> insns;
  std::set<uint64_t> branch_targets;  // of every direct jmp/jcc inside the function
  // Whether insns[i] directly follows insns[i-1] (Capstone skips bytes it
  // cannot decode: a gap means the code is not what we think).
  bool contiguous(size_t i) const { return i > 0 && insns[i - 1].addr + insns[i - 1].size == insns[i].addr; }
};

Result<Function> decode(const target::ElfFile& exe, const target::GoFunctionIndex& index, const std::string& name) {
  auto fn = index.find(name);
  if (!fn) return fn.error();
  if (fn->size > kMaxDispatchBytes)
    return Error{fmt::format("{} claims {} bytes of code (at most {} expected)", name, fn->size, kMaxDispatchBytes)};
  auto code = exe.read_vaddr(fn->entry, fn->size);
  if (code.size() != fn->size) return Error{name + ": its code lies outside the file"};
  Function f{name, *fn, {}, {}};
  const bool decoded = target::for_each_instruction(code, fn->entry, true, [&](const cs_insn& insn) {
    Insn d;
    d.addr = insn.address;
    d.size = insn.size;
    d.id = insn.id;
    std::copy(insn.bytes, insn.bytes + std::min<size_t>(insn.size, sizeof(d.bytes)), d.bytes);
    const cs_x86& x86 = insn.detail->x86;
    d.op_count = x86.op_count;
    for (uint8_t i = 0; i < x86.op_count && i < 2; i++) d.ops[i] = x86.operands[i];
    for (uint8_t i = 0; i < x86.op_count; i++)
      if (x86.operands[i].type == X86_OP_REG && (x86.operands[i].access & CS_AC_WRITE))
        d.writes.push_back(full_register(x86.operands[i].reg));
    for (uint8_t i = 0; i < insn.detail->regs_write_count; i++)
      d.writes.push_back(full_register(static_cast<x86_reg>(insn.detail->regs_write[i])));
    if ((target::is_jump(insn) || insn.id == X86_INS_CALL) && x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM) {
      d.branch_target = uint64_t(x86.operands[0].imm);
      if (insn.id != X86_INS_CALL) f.branch_targets.insert(*d.branch_target);
    }
    f.insns.push_back(std::move(d));
    return true;
  });
  if (!decoded) return Error{name + ": capstone could not decode it"};
  return f;
}

// Whether the kernel emulates a uprobe on this instruction instead of
// single-stepping it (arch/x86/kernel/uprobes.c: branch_setup_xol_ops, no
// prefix): CALL rel32, JMP rel8/rel32, Jcc rel8/rel32, a 1-byte NOP.
bool emulated(const Insn& i) {
  const uint8_t b = i.bytes[0];
  if (i.size == 1) return b == 0x90;
  if (i.size == 2) return b == 0xEB || (b >= 0x70 && b <= 0x7F);
  if (i.size == 5) return b == 0xE8 || b == 0xE9;
  if (i.size == 6) return b == 0x0F && i.bytes[1] >= 0x80 && i.bytes[1] <= 0x8F;
  return false;
}


// `mov reg64, qword ptr [rsp + disp]`: the register, or INVALID.
x86_reg load_from_sp(const Insn& i, int64_t* disp) {
  if (i.id != X86_INS_MOV || i.op_count != 2 || i.ops[0].type != X86_OP_REG || i.ops[0].size != 8 ||
      i.ops[1].type != X86_OP_MEM || i.ops[1].mem.base != X86_REG_RSP || i.ops[1].mem.index != X86_REG_INVALID ||
      i.ops[1].mem.segment != X86_REG_INVALID)
    return X86_REG_INVALID;
  *disp = i.ops[1].mem.disp;
  return i.ops[0].reg;
}

// `mov qword ptr [rsp + disp], reg64`
bool store_to_sp(const Insn& i, int64_t disp, x86_reg* from) {
  if (i.id != X86_INS_MOV || i.op_count != 2 || i.ops[0].type != X86_OP_MEM || i.ops[0].size != 8 ||
      i.ops[0].mem.base != X86_REG_RSP || i.ops[0].mem.index != X86_REG_INVALID ||
      i.ops[0].mem.segment != X86_REG_INVALID || i.ops[0].mem.disp != disp)
    return false;
  *from = i.ops[1].type == X86_OP_REG ? i.ops[1].reg : X86_REG_INVALID;
  return true;
}

// The bytes from SP (after the prologue) to the return address: Go's two
// prologues, `PUSHQ BP; MOVQ SP, BP; SUBQ $N, SP` (N + 8) and
// `SUBQ $N, SP; MOVQ BP, N-8(SP); LEAQ N-8(SP), BP` (N), after the
// stack-growth check.
std::optional<int64_t> frame_bytes(const Function& f) {
  bool pushed_bp = false;
  for (size_t i = 0; i < f.insns.size() && i < 8; i++) {
    const Insn& in = f.insns[i];
    if (i > 0 && !f.contiguous(i)) return std::nullopt;
    if (in.id == X86_INS_PUSH && in.op_count == 1 && in.ops[0].type == X86_OP_REG && in.ops[0].reg == X86_REG_RBP) {
      pushed_bp = true;
      continue;
    }
    if (in.id == X86_INS_SUB && in.op_count == 2 && in.ops[0].type == X86_OP_REG && in.ops[0].reg == X86_REG_RSP &&
        in.ops[1].type == X86_OP_IMM && in.ops[1].imm > 0 && in.ops[1].imm < (1 << 20))
      return in.ops[1].imm + (pushed_bp ? 8 : 0);
  }
  return std::nullopt;
}

// The only CALL rel32 of `f` to `callee`, or why not.
Result<size_t> only_call_to(const Function& f, const target::GoFunctionIndex& index, const std::string& callee) {
  auto target = index.find(callee);
  if (!target) return Error{fmt::format("{} not found", callee)};
  std::vector<size_t> calls;
  for (size_t i = 0; i < f.insns.size(); i++)
    if (f.insns[i].is_call_rel32() && f.insns[i].branch_target == target->entry) calls.push_back(i);
  if (calls.size() != 1)
    return Error{fmt::format("{} calls {} {} times, not once", f.name, callee, calls.size())};
  return calls.front();
}

// The last instruction in the kScanBeforeCall instructions before
// insns[call] that writes `reg` (no jump target in between: the value must
// come from this straight line), or npos. A CALL on the way clobbers every
// register (Go's ABI saves none across calls; runtime.duffcopy's RSI and
// RDI are not even in Capstone's list), so it ends the search.
size_t last_writer_before(const Function& f, size_t call, x86_reg reg) {
  for (size_t k = 1; k <= kScanBeforeCall && k <= call; k++) {
    const size_t i = call - k;
    if (!f.contiguous(i + 1) || f.branch_targets.count(f.insns[i + 1].addr)) return std::string::npos;
    if (f.insns[i].writes_to(reg)) return i;
    if (f.insns[i].id == X86_INS_CALL) return std::string::npos;
  }
  return std::string::npos;
}

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

ProbeSite probe_at(const target::ElfFile& exe, const Function& f, const Insn& at, const std::string& placement) {
  return ProbeSite{exe.path(), f.name, f.range.file_offset + (at.addr - f.range.entry), at.addr, placement, false};
}

mws_route_site blank_spec(uint32_t router, uint32_t shape) {
  mws_route_site s{};
  s.router = router;
  s.shape = shape;
  s.reg = s.len_reg = s.match_reg = MWS_REG_NONE;
  s.request_at = MWS_REQ_NONE;
  s.request_reg = MWS_REG_NONE;
  s.request_off = s.deref_off = s.pattern_off = -1;
  s.url_off = s.url_path_off = s.url_rawpath_off = -1;
  return s;
}

// ---------------------------------------------------------------- ServeMux

// Where the *http.Request of (*ServeMux).ServeHTTP(w, r) is at `site`
// (insns index), reached by falling through from the return of the CALL
// at `call`: r arrives in RDI and its ABI spill slot is in the caller's
// frame, after the receiver (1 word) and w (2 words), so at SP + frame +
// 8 + 0x18 from the body. The function must store RDI there (the spill)
// and nothing else. Then, when an instruction between the CALL and the
// site reloads r into a register that stays unwritten up to the site, r is
// in that register (1.23+: RDX); otherwise on the stack.
void find_mux_request(const Function& f, size_t call, size_t site, mws_route_site& spec) {
  auto frame = frame_bytes(f);
  if (!frame) return;
  const int64_t slot = *frame + 8 + 0x18;
  bool spilled = false;
  for (const Insn& in : f.insns) {
    x86_reg from;
    if (!store_to_sp(in, slot, &from)) continue;
    if (from != X86_REG_RDI) return;  // something else shares the slot: not the shape we know
    spilled = true;
  }
  if (!spilled) return;
  spec.request_at = MWS_REQ_STACK;
  spec.request_off = static_cast<int32_t>(slot);
  for (size_t i = call + 1; i < site; i++) {
    int64_t disp = 0;
    x86_reg r = load_from_sp(f.insns[i], &disp);
    if (r == X86_REG_INVALID || disp != slot || pt_regs_register(r) == MWS_REG_NONE) continue;
    bool kept = true;
    for (size_t j = i + 1; j < site; j++) kept = kept && !f.insns[j].writes_to(r);
    if (kept) {
      spec.request_at = MWS_REQ_REG;
      spec.request_reg = pt_regs_register(r);
      spec.request_off = -1;
    }
  }
}

// The first instruction the kernel emulates among the few after the CALL
// at insns[call], reached from the CALL only (no jump lands between them),
// with `keep` unwritten up to it. npos when there is none.
size_t emulated_site_after(const Function& f, size_t call, std::initializer_list<x86_reg> keep) {
  for (size_t i = call + 1; i < f.insns.size() && i <= call + kScanAfterCall; i++) {
    const Insn& in = f.insns[i];
    if (!f.contiguous(i) || f.branch_targets.count(in.addr)) return std::string::npos;
    if (emulated(in)) return i;
    for (x86_reg r : keep)
      if (in.writes_to(r)) return std::string::npos;
    // Control leaves the straight line (RET, an indirect jump or call).
    if (in.id == X86_INS_RET || in.id == X86_INS_JMP || in.id == X86_INS_CALL) return std::string::npos;
  }
  return std::string::npos;
}

// The return site of the CALL at insns[call] (the instruction after it),
// reached from the CALL only: where ServeMux before 1.22 has its pattern,
// single-stepped.
size_t return_site(const Function& f, size_t call) {
  const size_t i = call + 1;
  if (i >= f.insns.size() || !f.contiguous(i) || f.branch_targets.count(f.insns[i].addr)) return std::string::npos;
  return i;
}

void add_servemux(const target::ElfFile& exe, const target::GoFunctionIndex& index, const target::GoBuildInfo& build,
                  RouteSites& out) {
  const std::string name = "net/http.(*ServeMux).ServeHTTP";
  if (!index.find(name)) return;  // no net/http server: no router, nothing to say
  auto f = decode(exe, index, name);
  if (!f) {
    out.refused.push_back("net/http.ServeMux: " + f.error().message + "; no routes from ServeMux");
    return;
  }
  // Go 1.22 brought the new patterns (and findHandler); a version that
  // does not parse ("devel ...") is told by the function itself.
  const auto ver = target::parse_go_version(build.version);
  const bool new_patterns =
      ver ? *ver >= std::make_pair(1, 22) : bool(index.find("net/http.(*ServeMux).findHandler"));
  // Go 1.22+: (*ServeMux).findHandler returns (h Handler, patStr string,
  // _ *pattern, matches []string): RAX:RBX h, RCX:RDI patStr, RSI the
  // *pattern (nil on 404, 405 and redirects, whose patStr is the raw
  // path), R8-R10 matches. The site is the first emulated instruction
  // after the CALL with RCX, RDI and RSI intact.
  // (*serveMux121).findHandler (httpmuxgo121, the default when go.mod says
  // go < 1.22) and, before 1.22, (*ServeMux).Handler return (h Handler,
  // pattern string): RAX:RBX h, RCX:RDI the pattern.
  struct Want {
    std::string callee;
    uint32_t router;
    bool with_match;
    bool single_step_ok;
  };
  std::vector<Want> wants;
  if (new_patterns) {
    wants.push_back({"net/http.(*ServeMux).findHandler", MWS_ROUTER_SERVEMUX, true, false});
    // The 1.22 build reloads r into RDI right after this CALL, so the
    // pattern's length is only in RDI at the return site (single-stepped
    // like ServeMux before 1.22); 1.23+ load r into RDX and keep RDI.
    wants.push_back({"net/http.(*serveMux121).findHandler", MWS_ROUTER_SERVEMUX_PATH, false, true});
  } else {
    wants.push_back({"net/http.(*ServeMux).Handler", MWS_ROUTER_SERVEMUX_PATH, false, true});
  }
  for (const Want& w : wants) {
    auto call = only_call_to(*f, index, w.callee);
    if (!call) {
      out.refused.push_back(fmt::format("net/http.ServeMux ({}): {}; no routes from ServeMux on this path",
                                        build.version, call.error().message));
      continue;
    }
    std::initializer_list<x86_reg> keep_match = {X86_REG_RCX, X86_REG_RDI, X86_REG_RSI};
    std::initializer_list<x86_reg> keep_path = {X86_REG_RCX, X86_REG_RDI};
    size_t site = emulated_site_after(*f, *call, w.with_match ? keep_match : keep_path);
    std::string placement = "after CALL " + w.callee;
    if (site == std::string::npos && w.single_step_ok) {
      // The one site where the pattern is in registers; the kernel
      // single-steps it (docs/design/routes.md, section 1).
      site = return_site(*f, *call);
      placement += " (return site, single-stepped)";
    }
    if (site == std::string::npos) {
      out.refused.push_back(fmt::format(
          "net/http.ServeMux ({}): no instruction the kernel emulates after the CALL {} at {} keeps the pattern in "
          "RCX:RDI{}; no routes from ServeMux on this path",
          build.version, w.callee, hex(f->insns[*call].addr), w.with_match ? " and the match in RSI" : ""));
      continue;
    }
    mws_route_site spec = blank_spec(w.router, MWS_ROUTE_STRING_REGS);
    spec.reg = MWS_REG_CX;
    spec.len_reg = MWS_REG_DI;
    if (w.with_match) spec.match_reg = MWS_REG_SI;
    find_mux_request(*f, *call, site, spec);
    out.sites.push_back({probe_at(exe, *f, f->insns[site], placement), spec, "net/http.ServeMux"});
  }
}

// --------------------------------------------------------------- frameworks

// The version of module `path` in the build info's modinfo: its `dep`
// line, or the module version of its `=>` replacement (a replacement by a
// directory has none, and the dep line's version stays: the fixtures
// build Debian's source of exactly that version this way).
std::optional<std::string> module_version(const target::GoBuildInfo& build, const std::string& path) {
  std::istringstream in(build.module_info);
  std::string line;
  std::optional<std::string> version;
  bool in_dep = false;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream ls(line);
    for (std::string field; std::getline(ls, field, '\t');) fields.push_back(field);
    if (fields.size() >= 3 && fields[0] == "dep") {
      in_dep = fields[1] == path;
      if (in_dep) version = fields[2];
    } else if (fields.size() >= 3 && fields[0] == "=>" && in_dep) {
      if (fields[2].starts_with("v")) version = fields[2];
      in_dep = false;
    } else {
      in_dep = false;
    }
  }
  // The binary writes it, and a refusal line prints it: a version is a
  // short token of [0-9A-Za-z.+-] (semver, pseudo-versions), or none.
  if (version && (version->empty() || version->size() > 128 ||
                  !std::all_of(version->begin(), version->end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '.' || c == '+' || c == '-';
                  })))
    return std::nullopt;
  return version;
}

// A framework's offsets: the table row of its version and, when the
// binary has DWARF, the compiler's own. Both present: they must agree.
struct Layout {
  int32_t pattern_off = -1, request_off = -1, deref_off = -1;
};
struct LayoutFromDwarf {
  std::string type, pattern, request;  // request "": not in this struct
};

Result<Layout> framework_layout(const target::GoBuildInfo& build, const std::string& module,
                                const std::vector<std::pair<std::string, Layout>>& table,
                                const std::function<std::optional<Layout>()>& from_dwarf) {
  const auto version = module_version(build, module);
  std::optional<Layout> tabled;
  if (version)
    for (const auto& [v, layout] : table)
      if (v == *version) tabled = layout;
  const std::optional<Layout> dwarf = from_dwarf();
  if (tabled && dwarf && (tabled->pattern_off != dwarf->pattern_off || tabled->request_off != dwarf->request_off ||
                          tabled->deref_off != dwarf->deref_off))
    return Error{fmt::format("{} {}: the binary's DWARF disagrees with mwscope's table for that version", module,
                             *version)};
  if (tabled) return *tabled;
  if (dwarf) return *dwarf;
  if (version) return Error{fmt::format("{} {}: layout unknown (mwscope knows {})", module, *version, table.front().first)};
  return Error{fmt::format("{} without a module version (a GOPATH or vendored build) and without DWARF: layout unknown",
                           module)};
}

std::optional<int32_t> dwarf_offset(const target::ElfFile& exe, const std::string& type, const std::string& member) {
  auto off = target::go_member_offset_from_dwarf(exe, type, member);
  if (!off) return std::nullopt;
  return static_cast<int32_t>(*off);
}

// Where a request's URL.Path and URL.RawPath are: Request.URL at 0x10 in
// every version; url.URL.Path at 0x38; RawPath at 0x48 up to 1.25 and at
// 0x68 from 1.26 (Fragment and RawQuery moved before it). Checked against
// the DWARF of the 1.19 and 1.21-1.27 builds (tests/unit/test_route_sites.cpp).
struct UrlLayout {
  int32_t url_off = -1, path_off = -1, rawpath_off = -1;
};
Result<UrlLayout> http_url_layout(const target::ElfFile& exe, const target::GoBuildInfo& build) {
  std::optional<UrlLayout> tabled, dwarf;
  if (auto v = target::parse_go_version(build.version); v && v->first == 1 && v->second >= 17 && v->second <= 27)
    tabled = UrlLayout{0x10, 0x38, v->second >= 26 ? 0x68 : 0x48};
  auto url = dwarf_offset(exe, "net/http.Request", "URL");
  auto path = dwarf_offset(exe, "net/url.URL", "Path");
  auto raw = dwarf_offset(exe, "net/url.URL", "RawPath");
  if (url && path && raw) dwarf = UrlLayout{*url, *path, *raw};
  if (tabled && dwarf &&
      (tabled->url_off != dwarf->url_off || tabled->path_off != dwarf->path_off || tabled->rawpath_off != dwarf->rawpath_off))
    return Error{"the binary's DWARF disagrees with mwscope's table on net/url.URL of " + build.version};
  if (tabled) return *tabled;
  if (dwarf) return *dwarf;
  return Error{"the layout of net/url.URL in " + build.version +
               " is unknown, and echo's 404s leave the raw path where its route is"};
}

// sync.(*Pool).Put(p *Pool, x any): RAX p, RBX x's type, RCX x's data. The
// argument is the framework's per-request object, put back at the end of
// the request: RCX reloaded from its frame slot, RBX the type by LEAQ.
Result<size_t> pool_put_call(const Function& f, const target::GoFunctionIndex& index) {
  auto call = only_call_to(f, index, "sync.(*Pool).Put");
  if (!call) return call.error();
  const size_t rcx = last_writer_before(f, *call, X86_REG_RCX);
  const size_t rbx = last_writer_before(f, *call, X86_REG_RBX);
  int64_t disp = 0;
  if (rcx == std::string::npos || load_from_sp(f.insns[rcx], &disp) != X86_REG_RCX)
    return Error{fmt::format("{}: RCX is not loaded from the frame before CALL sync.(*Pool).Put at {}", f.name,
                             hex(f.insns[*call].addr))};
  const auto is_type_address = [](const Insn& lea) {
    return lea.id == X86_INS_LEA && lea.op_count == 2 && lea.ops[1].type == X86_OP_MEM &&
           lea.ops[1].mem.base == X86_REG_RIP;
  };
  if (rbx == std::string::npos || !is_type_address(f.insns[rbx]))
    return Error{fmt::format("{}: RBX is not a type address (LEAQ) before CALL sync.(*Pool).Put at {}", f.name,
                             hex(f.insns[*call].addr))};
  return *call;
}

struct Framework {
  const char* router;
  uint32_t kind;
  const char* function;
  const char* module;
};

void add_framework(const target::ElfFile& exe, const target::GoFunctionIndex& index, const target::GoBuildInfo& build,
                   const Framework& fw, RouteSites& out) {
  if (!index.find(fw.function)) return;  // not in this binary
  auto refuse = [&](const std::string& why) {
    out.refused.push_back(fmt::format("{}: {}; no routes from {}", fw.router, why, fw.router));
  };
  auto f = decode(exe, index, fw.function);
  if (!f) return refuse(f.error().message);
  mws_route_site spec{};
  size_t call = 0;
  std::string placement;
  if (fw.kind == MWS_ROUTER_GORILLA) {
    // requestWithRoute(req *http.Request, route *Route), called only on a
    // match: RAX req, RBX the *Route, loaded from match.Route.
    auto c = only_call_to(*f, index, "github.com/gorilla/mux.requestWithRoute");
    if (!c) return refuse(c.error().message);
    const size_t rbx = last_writer_before(*f, *c, X86_REG_RBX);
    const Insn* load = rbx == std::string::npos ? nullptr : &f->insns[rbx];
    if (!load || load->id != X86_INS_MOV || load->op_count != 2 || load->ops[1].type != X86_OP_MEM ||
        load->ops[1].size != 8)
      return refuse(fmt::format("RBX is not loaded from memory before CALL requestWithRoute at {}",
                                hex(f->insns[*c].addr)));
    call = *c;
    placement = "CALL github.com/gorilla/mux.requestWithRoute";
    auto layout = framework_layout(build, fw.module, {{"v1.8.0", {0, -1, 0x50}}}, [&]() -> std::optional<Layout> {
      auto conf = dwarf_offset(exe, "github.com/gorilla/mux.Route", "routeConf");
      auto group = dwarf_offset(exe, "github.com/gorilla/mux.routeConf", "regexp");
      auto path = dwarf_offset(exe, "github.com/gorilla/mux.routeRegexpGroup", "path");
      auto tmpl = dwarf_offset(exe, "github.com/gorilla/mux.routeRegexp", "template");
      if (!conf || !group || !path || !tmpl) return std::nullopt;
      return Layout{*tmpl, -1, *conf + *group + *path};
    });
    if (!layout) return refuse(layout.error().message);
    spec = blank_spec(fw.kind, MWS_ROUTE_STRING_AT);
    spec.reg = MWS_REG_BX;
    spec.deref_off = layout->deref_off;
    spec.pattern_off = layout->pattern_off;
    spec.request_at = MWS_REQ_REG;
    spec.request_reg = MWS_REG_AX;
  } else {
    auto c = pool_put_call(*f, index);
    if (!c) return refuse(c.error().message);
    call = *c;
    placement = "CALL sync.(*Pool).Put";
    Result<Layout> layout = Error{""};
    if (fw.kind == MWS_ROUTER_GIN) {
      layout = framework_layout(build, fw.module, {{"v1.8.1", {0x70, 0x20, -1}}}, [&]() -> std::optional<Layout> {
        auto p = dwarf_offset(exe, "github.com/gin-gonic/gin.Context", "fullPath");
        auto r = dwarf_offset(exe, "github.com/gin-gonic/gin.Context", "Request");
        if (!p || !r) return std::nullopt;
        return Layout{*p, *r, -1};
      });
      if (!layout) return refuse(layout.error().message);
      spec = blank_spec(fw.kind, MWS_ROUTE_STRING_AT);
      spec.request_at = MWS_REQ_FIELD;
    } else if (fw.kind == MWS_ROUTER_CHI) {
      layout = framework_layout(build, fw.module, {{"v5.0.7", {0xb0, 0x30, -1}}}, [&]() -> std::optional<Layout> {
        auto p = dwarf_offset(exe, "github.com/go-chi/chi/v5.Context", "RoutePatterns");
        auto m = dwarf_offset(exe, "github.com/go-chi/chi/v5.Context", "RouteMethod");
        if (!p || !m) return std::nullopt;
        return Layout{*p, *m, -1};
      });
      if (!layout) return refuse(layout.error().message);
      spec = blank_spec(fw.kind, MWS_ROUTE_STRINGS_AT);
      spec.request_at = MWS_REQ_METHOD_FIELD;
    } else {  // echo
      layout = framework_layout(build, fw.module, {{"v4.2.1", {0x10, 0x0, -1}}}, [&]() -> std::optional<Layout> {
        auto p = dwarf_offset(exe, "github.com/labstack/echo/v4.context", "path");
        auto r = dwarf_offset(exe, "github.com/labstack/echo/v4.context", "request");
        if (!p || !r) return std::nullopt;
        return Layout{*p, *r, -1};
      });
      if (!layout) return refuse(layout.error().message);
      spec = blank_spec(fw.kind, MWS_ROUTE_STRING_AT);
      spec.request_at = MWS_REQ_FIELD;
      // echo 4 leaves the raw path in c.path on a 404: BPF compares the
      // pattern's pointer with the request's URL.Path and URL.RawPath.
      auto url = http_url_layout(exe, build);
      if (!url) return refuse(url.error().message);
      spec.url_off = url->url_off;
      spec.url_path_off = url->path_off;
      spec.url_rawpath_off = url->rawpath_off;
    }
    spec.reg = MWS_REG_CX;
    spec.pattern_off = layout->pattern_off;
    spec.request_off = layout->request_off;
  }
  out.sites.push_back({probe_at(exe, *f, f->insns[call], placement), spec, fw.router});
}

}  // namespace

Result<mws_request_key_site> find_request_key_site(const target::ElfFile& exe, const target::GoFunctionIndex& functions) {
  auto f = decode(exe, functions, "net/http.(*conn).serve");
  if (!f) return f.error();
  auto call = only_call_to(*f, functions, "net/http.serverHandler.ServeHTTP");
  if (!call) return call.error();
  // serverHandler{c.server}.ServeHTTP(w, w.req): w, the interface's data
  // word, goes in RCX, loaded from the local that keeps it across the
  // call (w is used after it). Every Go from 1.19 to 1.27 does it so.
  const size_t load = last_writer_before(*f, *call, X86_REG_RCX);
  int64_t disp = 0;
  if (load == std::string::npos || load_from_sp(f->insns[load], &disp) != X86_REG_RCX)
    return Error{"(*conn).serve does not load the response from its frame for serverHandler.ServeHTTP"};
  auto frame = frame_bytes(*f);
  if (!frame || disp < 0 || disp + 8 > *frame - 8)
    return Error{"(*conn).serve's frame is not the shape mwscope reads"};
  // w.req, the call's last argument (RDI), read through w (RCX).
  const size_t req_load = last_writer_before(*f, *call, X86_REG_RDI);
  if (req_load == std::string::npos || req_load < load) return Error{"(*conn).serve does not pass w.req from w"};
  const Insn& r = f->insns[req_load];
  if (r.id != X86_INS_MOV || r.op_count != 2 || r.ops[0].type != X86_OP_REG || r.ops[0].reg != X86_REG_RDI ||
      r.ops[1].type != X86_OP_MEM || r.ops[1].mem.base != X86_REG_RCX || r.ops[1].mem.index != X86_REG_INVALID ||
      r.ops[1].mem.disp < 0 || r.ops[1].mem.disp > 0x1000)
    return Error{"(*conn).serve does not pass w.req from w"};
  for (size_t i = load + 1; i < req_load; i++)
    if (f->insns[i].writes_to(X86_REG_RCX)) return Error{"(*conn).serve does not pass w.req from w"};
  const Insn& at = f->insns[*call];
  // BP = SP + frame - 8 in both of Go's prologues (frame_bytes).
  return mws_request_key_site{at.addr + at.size, disp - (*frame - 8), r.ops[1].mem.disp};
}

RouteSites find_route_sites(const target::ElfFile& exe, const target::GoFunctionIndex& functions,
                            const target::GoBuildInfo& build) {
  RouteSites out;
  add_servemux(exe, functions, build, out);
  static const Framework kFrameworks[] = {
      {"gin", MWS_ROUTER_GIN, "github.com/gin-gonic/gin.(*Engine).ServeHTTP", "github.com/gin-gonic/gin"},
      {"chi", MWS_ROUTER_CHI, "github.com/go-chi/chi/v5.(*Mux).ServeHTTP", "github.com/go-chi/chi/v5"},
      {"echo", MWS_ROUTER_ECHO, "github.com/labstack/echo/v4.(*Echo).ServeHTTP", "github.com/labstack/echo/v4"},
      {"gorilla/mux", MWS_ROUTER_GORILLA, "github.com/gorilla/mux.(*Router).ServeHTTP", "github.com/gorilla/mux"},
  };
  for (const Framework& fw : kFrameworks) add_framework(exe, functions, build, fw, out);
  // One instruction, one site: a binary whose symbols give one piece of
  // code two routers' names would have the second spec replace the first
  // in BPF's map, and two probes fire on each request.
  std::set<uint64_t> seen;
  std::vector<RouteSite> unique;
  for (RouteSite& s : out.sites) {
    if (seen.insert(s.probe.vaddr).second)
      unique.push_back(std::move(s));
    else
      out.refused.push_back(fmt::format("{}: its route site {:#x} is another router's too; not probed twice",
                                        s.router, s.probe.vaddr));
  }
  out.sites = std::move(unique);
  return out;
}

}  // namespace mws::probes
