// The Go ABI table (see go_abi.h). Layout rules used for the hand-computed rows
// (amd64, gc): every field is aligned to min(its size, 8); bool/uint8/int8/waitReason 1,
// uint32/atomic.Uint32/sigset-element 4, pointers/uintptr/int64/uint64/atomic.Int64 8,
// stack{lo,hi} 16, slices 24, strings 16, atomic.Bool 1. gobuf is
// {sp, pc, g, ctxt, ret, lr, bp} = 56 bytes up to Go 1.24 and {sp, pc, g, ctxt, lr, bp}
// = 48 bytes from Go 1.25 (gobuf.ret was removed).
#include "target/go_abi.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "target/gopclntab.h"  // parse_go_version

namespace mws::target {

namespace {

// ---------------------------------------------------------------------------
// Struct offsets per Go minor version.
//
// Common to all rows (runtime2.go, every version): g starts with
// stack(0,16) stackguard0(16) stackguard1(24) _panic(32) _defer(40) m(48) sched(56),
// so g.m = 48, g.sched.sp = 56, g.sched.pc = 64, and g.sched.bp = 56 + 48 = 104
// (gobuf with ret, <= 1.24) or 56 + 40 = 96 (gobuf without ret, >= 1.25).
// m starts with g0(0) morebuf(gobuf, 8) divmod(uint32) [pad] procid(uint64) gsignal(*g)
// goSigStack(gsignalStack{stack, stackguard0, stackguard1, stktopsp} = 40)
// sigmask(sigset = [2]uint32 on linux, 8) tls([6]uintptr = 48) mstartfn(func) curg(*g):
// curg = 192 with the 56-byte gobuf, 184 with the 48-byte one.
//
// Sources read for each row (stored copies of the Go tree; "annotated" = a study fork of
// that release with added comments, fields unchanged) are named in the row's comment.
// Cross-checks: the go1.19 row is compared with the compiler's DWARF of the go1.19
// fixture (tests/unit/test_go_abi.cpp); every row's g.labels (= startpc + 48: racectx,
// waiting, cgoCtxt) agrees with the DWARF-derived table of the OpenTelemetry eBPF
// profiler (labels 360 for 1.17-1.20, 344 for 1.21-1.22, 352 for 1.23-1.24, 344 for 1.25,
// 352 for 1.26; m.curg 192 up to 1.24, 184 from 1.25; sched.bp 104 / 96).
struct OffsetRow {
  int minor;
  int64_t goid, startpc, gopc, atomicstatus, waitreason, waitsince, sched_bp, m_curg;
};

constexpr int64_t kSchedSp = 56, kSchedPc = 64;
// g.m: after stack (2 words), stackguard0, stackguard1, _panic, _defer in every version.
constexpr int64_t kGM = 48;
// g.syscallsp and g.syscallpc follow g.sched, whose last word is bp, in every version.
constexpr int64_t kSyscallSpAfterSchedBp = 8;
// m.g0: m's first word in every version.
constexpr int64_t kMG0 = 0;

constexpr std::array<OffsetRow, 11> kOffsetRows = {{
    // go1.17: runtime2.go of go1.17.13 (erlangtui/go1.17.13, annotated). After sched:
    // syscallsp(112) syscallpc(120) stktopsp(128) param(136) atomicstatus uint32(144)
    // stackLock(148) goid int64(152) schedlink(160) waitsince(168) waitreason(176),
    // 13 one-byte fields (177..189: preempt … parkingOnChan uint8, raceignore,
    // sysblocktraced, tracking, trackingSeq), runnableStamp(192) runnableTime(200)
    // sysexitticks(208) traceseq(216) tracelastp(224) lockedm(232) sig(240)
    // writebuf(248,24) sigcode0(272) sigcode1(280) sigpc(288) gopc(296) ancestors(304)
    // startpc(312). No parentGoid.
    {17, 152, 312, 296, 144, 176, 168, 104, 192},
    // go1.18: runtime2.go (pedrogao/go1.18): g identical to 1.17 up to startpc
    // (m.fastrand became uint64; m.curg unchanged).
    {18, 152, 312, 296, 144, 176, 168, 104, 192},
    // go1.19: runtime2.go of the local go1.19.8 toolchain: same as 1.18 up to startpc
    // (goroutineProfiled added after selectDone). Checked against DWARF in the tests.
    {19, 152, 312, 296, 144, 176, 168, 104, 192},
    // go1.20: runtime2.go of go1.20.6 (GeeVong/GolangSrcReading1.20.6): atomicstatus
    // became atomic.Uint32 (same size), goid uint64, parkingOnChan atomic.Bool,
    // runnableStamp renamed trackingStamp; m gained an explicit `_ uint32` pad.
    // Offsets unchanged.
    {20, 152, 312, 296, 144, 176, 168, 104, 192},
    // go1.21: runtime2.go of go1.21.0 (luode0320/go-1.21.0, annotated): sysblocktraced,
    // sysexitticks, traceseq, tracelastp moved into `trace gTraceState` (after
    // goroutineProfiled); parentGoid uint64 added before gopc. trackingStamp(192)
    // runnableTime(200) lockedm(208) sig(216) writebuf(224) sigcode0(248) sigcode1(256)
    // sigpc(264) parentGoid(272) gopc(280) ancestors(288) startpc(296).
    {21, 152, 296, 280, 144, 176, 168, 104, 192},
    // go1.22: runtime2.go of go1.22 (a stored copy with goarmsoftfp and
    // waitReasonCoroutine last): one-byte fields inMarkAssist, coroexit, nocgocallback
    // added in the 177..191 gap; coroarg added after selectDone. Offsets as 1.21.
    {22, 152, 296, 280, 144, 176, 168, 104, 192},
    // go1.23: runtime2.go of go1.23 (an annotated copy with waitReasonGCWeakToStrongWait
    // last): syscallbp added after syscallpc, shifting everything after it by 8:
    // atomicstatus(152) goid(160) waitsince(176) waitreason(184) trackingStamp(200)
    // lockedm(216) sig(224) writebuf(232) parentGoid(280) gopc(288) startpc(304);
    // sleepWhen added after timer.
    {23, 160, 304, 288, 152, 184, 176, 104, 192},
    // go1.24: runtime2.go of go1.24 (stored copies with syncGroup *synctestGroup and the
    // spinbitmutex m padding): fipsIndicator uint8 added after lockedm, at 224 in the
    // padding before sig (now 228; writebuf stays at 232); syncGroup after coroarg.
    // Offsets as 1.23.
    {24, 160, 304, 288, 152, 184, 176, 104, 192},
    // go1.25: runtime2.go of go1.25.3 (CaoYuming-git/go1.25.3): gobuf.ret removed
    // (gobuf 48 bytes), so everything after g.sched moves back by 8: syscallbp(120)
    // atomicstatus(144) goid(152) waitreason(176); syncSafePoint and runningCleanups
    // added after fipsIndicator (216..218, sig 220). m.curg = 184, sched.bp = 96.
    {25, 152, 296, 280, 144, 176, 168, 96, 184},
    // go1.26: g as quoted from go1.26-era runtime2.go (golang/go tree of the 1.26 cycle
    // plus fipsOnlyBypass, ditWanted and `secret int32` after sig, as in gccgo's libgo
    // copy synced with 1.26 and a 2026 write-up of runtime2.go): lockedm(208)
    // fipsIndicator(216) fipsOnlyBypass(217) ditWanted(218) syncSafePoint(219)
    // runningCleanups(220) sig(224) secret(228) writebuf(232) parentGoid(280) gopc(288)
    // startpc(304). xRegs and valgrindStackID are after startpc.
    {26, 152, 304, 288, 144, 176, 168, 96, 184},
    // go1.27: runtime2.go of go1.27.4 (Debian's golang-1.27-src): g and m unchanged
    // from go1.26; checked against the DWARF of a go1.27.4 build by the toolchain
    // matrix test.
    {27, 152, 304, 288, 144, 176, 168, 96, 184},
}};

// The table row for a version: its own, or the newest row for a version newer
// than every row (`newer` set). nullopt before go1.17 or for a non-Go-1 version.
struct TableRow {
  int minor = 0;
  bool newer = false;
};

std::optional<TableRow> table_row(const std::string& go_version) {
  auto v = parse_go_version(go_version);
  if (!v || v->first != 1 || v->second < kGoAbiMinMinor) return std::nullopt;
  if (v->second > kGoAbiMaxMinor) return TableRow{kGoAbiMaxMinor, true};
  return TableRow{v->second, false};
}

Error unknown_version(const std::string& go_version, std::string_view what) {
  return Error{"no Go " + std::string(what) + " table for Go version \"" + go_version +
               "\": mwscope knows go1." + std::to_string(kGoAbiMinMinor) + " to go1." +
               std::to_string(kGoAbiMaxMinor) +
               " and newer (a binary built with DWARF works for the struct offsets)"};
}

// ---------------------------------------------------------------------------
// waitReason strings, indexed by the enum value (runtime2.go's const block; the
// waitReasonStrings initializer is keyed, so the const order is what counts).
// One list, go1.17's, and what each release changed in it: a reader sees the
// history, and each version's list follows from it. The unit tests compare
// every installed toolchain's runtime2.go with the list built here.

// go1.17, go1.18 and go1.19 (identical const blocks).
constexpr std::string_view kWaitReasons117[] = {
    "",                         // 0 waitReasonZero
    "GC assist marking",        // 1
    "IO wait",                  // 2
    "chan receive (nil chan)",  // 3
    "chan send (nil chan)",     // 4
    "dumping heap",             // 5
    "garbage collection",       // 6
    "garbage collection scan",  // 7
    "panicwait",                // 8
    "select",                   // 9
    "select (no cases)",        // 10
    "GC assist wait",           // 11
    "GC sweep wait",            // 12
    "GC scavenge wait",         // 13
    "chan receive",             // 14
    "chan send",                // 15
    "finalizer wait",           // 16
    "force gc (idle)",          // 17
    "semacquire",               // 18
    "sleep",                    // 19
    "sync.Cond.Wait",           // 20
    "timer goroutine (idle)",   // 21
    "trace reader (blocked)",   // 22
    "wait for GC cycle",        // 23
    "GC worker (idle)",         // 24
    "preempted",                // 25
    "debug call",               // 26
};

using WaitReasons = std::vector<std::string_view>;

WaitReasons::iterator find_reason(WaitReasons& list, std::string_view reason) {
  auto it = std::find(list.begin(), list.end(), reason);
  if (it == list.end()) throw std::logic_error("wait reason history: no \"" + std::string(reason) + "\" to edit");
  return it;
}

void insert_after(WaitReasons& list, std::string_view anchor, std::initializer_list<std::string_view> added) {
  list.insert(find_reason(list, anchor) + 1, added);
}

void append(WaitReasons& list, std::initializer_list<std::string_view> added) { list.insert(list.end(), added); }

// Moves `moved` (in this order) to just after `anchor`.
void move_after(WaitReasons& list, std::string_view anchor, std::initializer_list<std::string_view> moved) {
  for (std::string_view r : moved) list.erase(find_reason(list, r));
  insert_after(list, anchor, moved);
}

WaitReasons wait_reasons_of(int minor) {
  WaitReasons list(std::begin(kWaitReasons117), std::end(kWaitReasons117));
  if (minor >= 20) {
    list.erase(find_reason(list, "timer goroutine (idle)"));
    insert_after(list, "sync.Cond.Wait", {"sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock"});
    insert_after(list, "GC worker (idle)", {"GC worker (active)"});
    append(list, {"GC mark termination", "stopping the world"});
  }
  if (minor >= 22)
    append(list, {"flushing proc caches", "trace goroutine status", "trace proc status", "page trace flush",
                  "coroutine"});
  if (minor >= 23) append(list, {"GC weak to strong wait"});
  if (minor >= 24) {
    insert_after(list, "sync.RWMutex.Lock", {"sync.WaitGroup.Wait"});
    append(list, {"synctest.Run", "synctest.Wait", "chan receive (synctest)", "chan send (synctest)",
                  "select (synctest)"});
  }
  if (minor >= 25) {
    insert_after(list, "force gc (idle)", {"GOMAXPROCS updater (idle)"});
    *find_reason(list, "chan receive (synctest)") = "chan receive (durable)";
    *find_reason(list, "chan send (synctest)") = "chan send (durable)";
    *find_reason(list, "select (synctest)") = "select (durable)";
    append(list, {"sync.WaitGroup.Wait (durable)", "cleanup wait"});
  }
  // go1.26 groups the channel waits into one range (isChanWait) for the
  // goroutine leak detector; go1.27 keeps that order.
  if (minor >= 26)
    move_after(list, "sleep",
               {"chan receive (nil chan)", "chan send (nil chan)", "select (no cases)", "select", "chan receive",
                "chan send"});
  return list;
}

const WaitReasons& wait_reasons(int minor) {
  static const std::array<WaitReasons, kGoAbiMaxMinor + 1> lists = [] {
    std::array<WaitReasons, kGoAbiMaxMinor + 1> out;
    for (int m = kGoAbiMinMinor; m <= kGoAbiMaxMinor; m++) out[m] = wait_reasons_of(m);
    return out;
  }();
  return lists[minor];
}

// ---------------------------------------------------------------------------
// DWARF.

// libelf + libdw over a second read-only mapping of the file (libdw decompresses
// SHF_COMPRESSED / .zdebug sections into its own buffers).
class DwarfFile {
 public:
  ~DwarfFile() {
    if (dw_) dwarf_end(dw_);
    if (elf_) elf_end(elf_);
    if (fd_ >= 0) close(fd_);
  }
  // The file the ElfFile has open (never reopened by path: the path may
  // name another file by now).
  Status open(const ElfFile& file) {
    const std::string& path = file.path();
    elf_version(EV_CURRENT);
    fd_ = fcntl(file.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd_ < 0) return Error{"cannot open " + path + " to read its DWARF"};
    elf_ = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
    if (!elf_) return Error{"cannot read " + path + " as ELF: " + elf_errmsg(-1)};
    dw_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
    if (!dw_) return Error{path + " has no DWARF (" + dwarf_errmsg(-1) + ")"};
    return Ok{};
  }
  Dwarf* dwarf() const { return dw_; }

 private:
  int fd_ = -1;
  Elf* elf_ = nullptr;
  Dwarf* dw_ = nullptr;
};

// A member's offset, or kTooFar when the DWARF says it is beyond any runtime
// struct (checked before it becomes a signed number). 16 MiB holds the
// largest (a heapArena); each caller bounds what it reads more tightly
// (check_go_offsets, go_member_offset_from_dwarf's max_offset).
constexpr int64_t kTooFar = std::numeric_limits<int64_t>::max();
constexpr uint64_t kMaxDwarfMemberOffset = 16u << 20;

std::optional<int64_t> member_offset(Dwarf_Die* member) {
  auto bounded = [](uint64_t off) { return off < kMaxDwarfMemberOffset ? int64_t(off) : kTooFar; };
  Dwarf_Attribute attr;
  if (!dwarf_attr_integrate(member, DW_AT_data_member_location, &attr)) return std::nullopt;
  Dwarf_Word off = 0;
  if (dwarf_formudata(&attr, &off) == 0) return bounded(off);
  // DWARF 2 style: a location expression, DW_OP_plus_uconst N.
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst)
    return bounded(ops[0].number);
  return std::nullopt;
}

// Finds the member called `name` of the struct DIE; fills *member when given.
std::optional<int64_t> find_member(Dwarf_Die* strct, std::string_view name,
                                   Dwarf_Die* member = nullptr) {
  Dwarf_Die child;
  if (dwarf_child(strct, &child) != 0) return std::nullopt;
  do {
    if (dwarf_tag(&child) != DW_TAG_member) continue;
    const char* n = dwarf_diename(&child);
    if (!n || name != n) continue;
    if (member) *member = child;
    return member_offset(&child);
  } while (dwarf_siblingof(&child, &child) == 0);
  return std::nullopt;
}

// The first top-level structure type of this name, in any compile unit.
std::optional<Dwarf_Die> find_struct_type(Dwarf* dw, std::string_view type) {
  Dwarf_Off off = 0, next = 0;
  size_t header_size = 0;
  while (dwarf_nextcu(dw, off, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu, die;
    if (dwarf_offdie(dw, off + header_size, &cu) && dwarf_child(&cu, &die) == 0) {
      do {
        const char* name = dwarf_diename(&die);
        if (dwarf_tag(&die) == DW_TAG_structure_type && name && type == name) return die;
      } while (dwarf_siblingof(&die, &die) == 0);
    }
    off = next;
  }
  return std::nullopt;
}

}  // namespace

Result<GoRuntimeOffsets> go_offsets_from_dwarf(const ElfFile& elf) {
  DwarfFile file;
  if (auto st = file.open(elf); !st) return st.error();
  std::optional<Dwarf_Die> g_type = find_struct_type(file.dwarf(), "runtime.g");
  if (!g_type) return Error{"the DWARF of " + elf.path() + " has no runtime.g type"};

  GoRuntimeOffsets o;
  Dwarf_Die* g = &*g_type;
  auto get = [&](std::string_view name) { return find_member(g, name).value_or(-1); };
  o.g_goid = get("goid");
  if (o.g_goid < 0)
    return Error{"the DWARF of " + elf.path() + " has runtime.g without a goid member"};
  o.g_startpc = get("startpc");
  o.g_gopc = get("gopc");
  o.g_parent_goid = get("parentGoid");
  o.g_atomicstatus = get("atomicstatus");
  o.g_waitreason = get("waitreason");
  o.g_waitsince = get("waitsince");
  o.g_m = get("m");
  o.g_syscallsp = get("syscallsp");
  o.g_syscallpc = get("syscallpc");
  if (std::optional<Dwarf_Die> m_type = find_struct_type(file.dwarf(), "runtime.m")) {
    o.m_curg = find_member(&*m_type, "curg").value_or(-1);
    o.m_g0 = find_member(&*m_type, "g0").value_or(-1);
  }

  Dwarf_Die sched_member;
  if (auto sched = find_member(g, "sched", &sched_member)) {
    Dwarf_Attribute type_attr;
    Dwarf_Die gobuf;
    if (dwarf_attr_integrate(&sched_member, DW_AT_type, &type_attr) &&
        dwarf_formref_die(&type_attr, &gobuf) && dwarf_peel_type(&gobuf, &gobuf) == 0) {
      auto at = [&](std::string_view name) -> int64_t {
        auto off = find_member(&gobuf, name);
        if (!off) return -1;
        return *sched == kTooFar || *off == kTooFar ? kTooFar : *sched + *off;  // both < 16 MiB: no overflow
      };
      o.g_sched_sp = at("sp");
      o.g_sched_pc = at("pc");
      o.g_sched_bp = at("bp");
    }
  }
  o.source = "DWARF";
  if (auto st = check_go_offsets(o); !st)
    return Error{"the DWARF of " + elf.path() + " is not a Go runtime's: " + st.error().message};
  return o;
}

Result<int64_t> go_member_offset_from_dwarf(const ElfFile& elf, std::string_view type, std::string_view member,
                                            int64_t max_offset) {
  DwarfFile file;
  if (auto st = file.open(elf); !st) return st.error();
  std::optional<Dwarf_Die> die = find_struct_type(file.dwarf(), type);
  if (!die) return Error{"the DWARF of " + elf.path() + " has no type " + std::string(type)};
  if (auto at = find_member(&*die, member)) {
    if (*at > max_offset - 8)
      return Error{"the DWARF of " + elf.path() + " puts " + std::string(type) + "." + std::string(member) +
                   " beyond " + std::to_string(max_offset) + " bytes: not a Go runtime's"};
    return *at;
  }
  return Error{"the DWARF type " + std::string(type) + " of " + elf.path() + " has no member " + std::string(member)};
}

Status check_go_offsets(const GoRuntimeOffsets& o) {
  const std::pair<const char*, int64_t> fields[] = {
      {"g.goid", o.g_goid},           {"g.startpc", o.g_startpc},     {"g.gopc", o.g_gopc},
      {"g.atomicstatus", o.g_atomicstatus}, {"g.waitreason", o.g_waitreason}, {"g.waitsince", o.g_waitsince},
      {"g.sched.sp", o.g_sched_sp},   {"g.sched.bp", o.g_sched_bp},   {"g.sched.pc", o.g_sched_pc},
      {"g.m", o.g_m},                 {"m.curg", o.m_curg},           {"g.syscallsp", o.g_syscallsp},
      {"g.syscallpc", o.g_syscallpc}, {"m.g0", o.m_g0},               {"g.parentGoid", o.g_parent_goid},
  };
  for (auto [name, off] : fields)
    if (off < -1 || off > kMaxGoStructOffset - 8)
      return Error{std::string("runtime.") + name + " at offset " +
                   (off == kTooFar ? std::string("beyond ") + std::to_string(kMaxGoStructOffset) : std::to_string(off)) +
                   " (a Go runtime's is under " + std::to_string(kMaxGoStructOffset) + ")"};
  return Ok{};
}

Result<GoRuntimeOffsets> go_offsets_from_table(const std::string& go_version) {
  auto row = table_row(go_version);
  if (!row) return unknown_version(go_version, "runtime struct offset");
  for (const OffsetRow& r : kOffsetRows) {
    if (r.minor != row->minor) continue;
    GoRuntimeOffsets o;
    o.g_goid = r.goid;
    o.g_startpc = r.startpc;
    o.g_gopc = r.gopc;
    o.g_atomicstatus = r.atomicstatus;
    o.g_waitreason = r.waitreason;
    o.g_waitsince = r.waitsince;
    o.g_sched_sp = kSchedSp;
    o.g_sched_pc = kSchedPc;
    o.g_sched_bp = r.sched_bp;
    o.g_m = kGM;
    o.m_curg = r.m_curg;
    o.g_syscallsp = r.sched_bp + kSyscallSpAfterSchedBp;
    o.g_syscallpc = o.g_syscallsp + 8;
    o.m_g0 = kMG0;
    // parentGoid came in go1.21, the word before gopc (rows' comments).
    o.g_parent_goid = r.minor >= 21 ? r.gopc - 8 : -1;
    o.source = "table go1." + std::to_string(r.minor);
    if (row->newer) o.source += " (newest row, for " + go_version + ")";
    return o;
  }
  return unknown_version(go_version, "runtime struct offset");
}

Result<GoRuntimeOffsets> go_runtime_offsets(const ElfFile& elf, const std::string& go_version) {
  auto dwarf = go_offsets_from_dwarf(elf);
  if (dwarf) return dwarf;
  auto table = go_offsets_from_table(go_version);
  if (table) return table;
  return Error{table.error().message + "; and " + dwarf.error().message};
}

Result<GoFunctionFacts> go_function_facts(const std::string& go_version) {
  auto row = table_row(go_version);
  if (!row) return unknown_version(go_version, "runtime function");
  const int v = row->minor;
  GoFunctionFacts f;
  // proc.go: newproc1(...) *g in every version (its parameters changed in go1.18 and
  // go1.23; the probes read only the result).
  f.newproc1_returns_g = true;
  f.newproc_closure = "runtime.newproc.func1";
  f.runqput_g_arg = 1;
  // coro.go (go1.22+): type coro struct { gp guintptr; f func(*coro); ... }.
  f.has_newcoro = v >= 22;
  f.coro_g_offset = 0;
  // malloc.go: mallocgc(size uintptr, typ *_type, needzero bool) in every version, and
  // the size-specialised entry points take the same arguments (see allocator_role).
  f.mallocgc_size_arg = 0;
  f.mallocgc_type_arg = 1;
  // mprof.go: go1.23 added mp *m as first parameter (profStack lives in m from 1.23).
  if (v <= 22) {
    f.mprof_malloc_ptr_arg = 0;
    f.mprof_malloc_size_arg = 1;
  } else {
    f.mprof_malloc_ptr_arg = 1;
    f.mprof_malloc_size_arg = 2;
  }
  f.bucket_size_offset = 32;
  // mcache.go: go1.24 added memProfRate after nextSample.
  f.mcache_tiny_allocs_offset = v <= 23 ? 32 : 40;
  // mprof.go: go1.19 made mProfCycle an mProfCycleHolder (cycle<<1 | flushed); go1.23
  // made the stack depth a GODEBUG (profstackdepth, at most maxProfStackDepth); go1.27
  // dropped alloc_bytes and free_bytes from memRecordCycle.
  f.heap_profile_readable = v >= 19;
  f.mem_record_cycle_words = v <= 26 ? 4 : 2;
  f.max_profile_stack_depth = v <= 22 ? 32 : 1024;
  // coro.go (go1.22+): coroexit -> coroswitch_m -> gdestroy(gp), never goexit1.
  f.has_gdestroy = v >= 22;
  f.gdestroy_function = f.has_gdestroy ? "runtime.gdestroy" : "";
  // symtab.go: go1.20 added covctrs, ecovctrs before end.
  f.moduledata_types_offset = v <= 19 ? 280 : 296;
  return f;
}

bool go_version_beyond_table(const std::string& go_version) {
  auto row = table_row(go_version);
  return row && row->newer;
}

AllocatorRole allocator_role(std::string_view fn) {
  constexpr std::string_view kPrefix = "runtime.mallocgc";
  if (!fn.starts_with(kPrefix)) return AllocatorRole::kUnknown;
  std::string_view rest = fn.substr(kPrefix.size());
  if (rest.empty()) return AllocatorRole::kEntry;
  // Size-specialised entry points: a known stem followed by a size class or size.
  auto numbered = [&](std::string_view stem) {
    if (!rest.starts_with(stem) || rest.size() == stem.size()) return false;
    return rest.substr(stem.size()).find_first_not_of("0123456789") == std::string_view::npos;
  };
  for (std::string_view stem : {"SmallScanNoHeaderSC", "SmallNoScanSC", "TinySC", "TinySize"})
    if (numbered(stem)) return AllocatorRole::kEntry;
  // malloc.go (1.24+) and malloc_generated.go (1.26+): called by the entries only.
  for (std::string_view internal : {"Tiny", "SmallNoscan", "SmallScanNoHeader", "SmallScanHeader", "Large",
                                    "TinySlowPath", "SmallScanSlowPath", "SmallNoScanSlowPath"})
    if (rest == internal) return AllocatorRole::kInternal;
  return AllocatorRole::kUnknown;
}

bool go_status_is_goroutine(uint32_t atomicstatus) {
  const uint32_t base = atomicstatus & ~kGoStatusScan;
  return base != kGoStatusDead && base != kGoStatusDeadExtra;
}

bool go_status_is_waiting(uint32_t atomicstatus) {
  const uint32_t base = atomicstatus & ~kGoStatusScan;
  return base == kGoStatusWaiting || base == kGoStatusLeaked;
}

std::string go_status_name(uint32_t atomicstatus) {
  constexpr uint32_t kScan = kGoStatusScan;
  // runtime2.go _Gidle … ; _Gleaked (10) and _Gdeadextra (11) appear in go1.26 sources.
  static constexpr const char* kNames[] = {
      "idle",     "runnable",       "running",   "syscall",   "waiting",  "moribund_unused",
      "dead",     "enqueue_unused", "copystack", "preempted", "leaked",   "deadextra",
  };
  const bool scan = (atomicstatus & kScan) != 0;
  const uint32_t base = atomicstatus & ~kScan;
  if (base >= std::size(kNames)) return "unknown status " + std::to_string(atomicstatus);
  std::string name = kNames[base];
  if (scan) name += " (scan)";
  return name;
}

std::string go_wait_reason_name(const std::string& go_version, uint8_t reason) {
  auto row = table_row(go_version);
  if (!row) return "";
  const WaitReasons& list = wait_reasons(row->minor);
  return reason < list.size() ? std::string(list[reason]) : "";
}

}  // namespace mws::target
