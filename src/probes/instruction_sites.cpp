#include "probes/instruction_sites.h"

#include "bpf/events.h"

#include <algorithm>
#include <iterator>

#include "target/x86_code.h"

namespace mws::probes {

std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr) {
  std::vector<uint64_t> rets;
  // ENDBR64 (CET) never occurs in Go code, but C functions start with it;
  // it is decoded like any other instruction and skipped here.
  target::for_each_instruction(code, entry_addr, false, [&](const cs_insn& insn) {
    if (insn.id == X86_INS_RET) rets.push_back(insn.address);
    return true;
  });
  return rets;
}

std::vector<uint64_t> find_calls_to(std::span<const uint8_t> code, uint64_t entry_addr, uint64_t callee) {
  std::vector<uint64_t> calls;
  target::for_each_instruction(code, entry_addr, true, [&](const cs_insn& insn) {
    if (insn.id != X86_INS_CALL || insn.size != kCallRel32Bytes || insn.bytes[0] != 0xE8) return true;
    const cs_x86& x86 = insn.detail->x86;
    if (x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM && uint64_t(x86.operands[0].imm) == callee)
      calls.push_back(insn.address);
    return true;
  });
  return calls;
}

// The 64-bit register a general register is part of (EAX, AX, AL, AH:
// RAX; R8D, R8W, R8B: R8); any other register as it is.
x86_reg full_register(x86_reg r) {
  struct Parts {
    x86_reg full;
    x86_reg parts[4];  // X86_REG_INVALID where there are fewer
  };
  static constexpr Parts kParts[] = {
      {X86_REG_RAX, {X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH}},
      {X86_REG_RBX, {X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH}},
      {X86_REG_RCX, {X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH}},
      {X86_REG_RDX, {X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH}},
      {X86_REG_RSI, {X86_REG_ESI, X86_REG_SI, X86_REG_SIL, X86_REG_INVALID}},
      {X86_REG_RDI, {X86_REG_EDI, X86_REG_DI, X86_REG_DIL, X86_REG_INVALID}},
      {X86_REG_RBP, {X86_REG_EBP, X86_REG_BP, X86_REG_BPL, X86_REG_INVALID}},
      {X86_REG_RSP, {X86_REG_ESP, X86_REG_SP, X86_REG_SPL, X86_REG_INVALID}},
      {X86_REG_R8, {X86_REG_R8D, X86_REG_R8W, X86_REG_R8B, X86_REG_INVALID}},
      {X86_REG_R9, {X86_REG_R9D, X86_REG_R9W, X86_REG_R9B, X86_REG_INVALID}},
      {X86_REG_R10, {X86_REG_R10D, X86_REG_R10W, X86_REG_R10B, X86_REG_INVALID}},
      {X86_REG_R11, {X86_REG_R11D, X86_REG_R11W, X86_REG_R11B, X86_REG_INVALID}},
      {X86_REG_R12, {X86_REG_R12D, X86_REG_R12W, X86_REG_R12B, X86_REG_INVALID}},
      {X86_REG_R13, {X86_REG_R13D, X86_REG_R13W, X86_REG_R13B, X86_REG_INVALID}},
      {X86_REG_R14, {X86_REG_R14D, X86_REG_R14W, X86_REG_R14B, X86_REG_INVALID}},
      {X86_REG_R15, {X86_REG_R15D, X86_REG_R15W, X86_REG_R15B, X86_REG_INVALID}},
  };
  if (r == X86_REG_INVALID) return r;
  for (const Parts& p : kParts)
    if (std::find(std::begin(p.parts), std::end(p.parts), r) != std::end(p.parts)) return p.full;
  return r;
}

namespace {

// What find_counter_flushes needs of an instruction, copied out of
// Capstone's buffer (it is reused for the next instruction).
struct Decoded {
  uint64_t addr = 0;
  unsigned id = X86_INS_INVALID;
  bool lock = false;
  uint8_t op_count = 0;
  cs_x86_op ops[2] = {};
  // General registers written (explicit operands and implicit), as their
  // full 64-bit names: `mov eax, 1` overwrites RAX too.
  std::vector<x86_reg> writes;
  bool writes_to(x86_reg full) const { return std::find(writes.begin(), writes.end(), full) != writes.end(); }
};

bool is_member(const cs_x86_op& op, x86_reg base, int64_t disp) {
  return op.type == X86_OP_MEM && op.size == 8 && op.mem.base == base && op.mem.index == X86_REG_INVALID &&
         op.mem.segment == X86_REG_INVALID && op.mem.disp == disp;
}

bool is_general_base(x86_reg r) {
  return r != X86_REG_INVALID && r != X86_REG_RIP && r != X86_REG_RSP;
}

}  // namespace

std::vector<CounterFlush> find_counter_flushes(std::span<const uint8_t> code, uint64_t entry_addr,
                                               int64_t member_offset) {
  std::vector<Decoded> insns;
  target::for_each_instruction(code, entry_addr, true, [&](const cs_insn& insn) {
    Decoded d;
    d.addr = insn.address;
    d.id = insn.id;
    const cs_x86& x86 = insn.detail->x86;
    d.lock = x86.prefix[0] == X86_PREFIX_LOCK;
    d.op_count = x86.op_count;
    for (uint8_t i = 0; i < x86.op_count && i < 2; i++) {
      d.ops[i] = x86.operands[i];
      if (x86.operands[i].type == X86_OP_REG && (x86.operands[i].access & CS_AC_WRITE))
        d.writes.push_back(full_register(x86.operands[i].reg));
    }
    for (uint8_t i = 0; i < insn.detail->regs_write_count; i++)
      d.writes.push_back(full_register(static_cast<x86_reg>(insn.detail->regs_write[i])));
    insns.push_back(d);
    return true;
  });
  // The load, the XADD and the store sit together in every Go version
  // checked (1.19-1.27); a few instructions between them are allowed.
  constexpr size_t kWindow = 4;
  std::vector<CounterFlush> found;
  for (size_t i = 0; i < insns.size(); i++) {
    const Decoded& load = insns[i];
    if (load.id != X86_INS_MOV || load.op_count != 2 || load.ops[0].type != X86_OP_REG || load.ops[0].size != 8 ||
        !is_general_base(load.ops[1].mem.base) || !is_member(load.ops[1], load.ops[1].mem.base, member_offset))
      continue;
    const x86_reg base = load.ops[1].mem.base, value = load.ops[0].reg;
    if (value == base) continue;  // the load itself overwrites the struct pointer
    bool added = false;
    for (size_t j = i + 1; j < insns.size() && j <= i + kWindow; j++) {
      const Decoded& d = insns[j];
      if (d.id == X86_INS_XADD && d.lock && d.op_count == 2 && d.ops[1].type == X86_OP_REG && d.ops[1].reg == value &&
          d.ops[0].type == X86_OP_MEM && !is_member(d.ops[0], base, member_offset)) {
        added = true;
        continue;
      }
      if (added && d.id == X86_INS_MOV && d.op_count == 2 && is_member(d.ops[0], base, member_offset) &&
          d.ops[1].type == X86_OP_IMM && d.ops[1].imm == 0) {
        found.push_back({load.addr, base});
        break;
      }
      // The struct pointer or, before the XADD, the value it adds changed.
      if (d.writes_to(full_register(base)) || (!added && d.writes_to(full_register(value)))) break;
    }
  }
  return found;
}

uint32_t pt_regs_register(x86_reg r) {
  switch (r) {
    case X86_REG_RAX: return MWS_REG_AX;
    case X86_REG_RBX: return MWS_REG_BX;
    case X86_REG_RCX: return MWS_REG_CX;
    case X86_REG_RDX: return MWS_REG_DX;
    case X86_REG_RSI: return MWS_REG_SI;
    case X86_REG_RDI: return MWS_REG_DI;
    case X86_REG_RBP: return MWS_REG_BP;
    case X86_REG_R8: return MWS_REG_R8;
    case X86_REG_R9: return MWS_REG_R9;
    case X86_REG_R10: return MWS_REG_R10;
    case X86_REG_R11: return MWS_REG_R11;
    case X86_REG_R12: return MWS_REG_R12;
    case X86_REG_R13: return MWS_REG_R13;
    case X86_REG_R14: return MWS_REG_R14;
    case X86_REG_R15: return MWS_REG_R15;
    default: return MWS_REG_NONE;
  }
}

}  // namespace mws::probes
