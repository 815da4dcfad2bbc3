// One way to walk x86-64 machine code with Capstone: open, iterate, close.
// Undecodable bytes are skipped one at a time (Go pads functions with INT3,
// and data may sit between functions).
#pragma once

#include <capstone/capstone.h>

#include <cstdint>
#include <functional>
#include <span>

namespace mws::target {

// Calls visit(insn) for each instruction of `code`, which starts at address
// `addr`, until visit returns false. With `detail`, insn.detail (operands)
// is filled, at some cost. False when Capstone cannot be opened.
bool for_each_instruction(std::span<const uint8_t> code, uint64_t addr, bool detail,
                          const std::function<bool(const cs_insn&)>& visit);

// Whether a decoded instruction (with detail) is a jump: JMP, every Jcc,
// JRCXZ, LOOP..., as Capstone groups them.
bool is_jump(const cs_insn& insn);

}  // namespace mws::target
