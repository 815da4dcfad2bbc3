#include "probes/ret_finder.h"

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

}  // namespace mws::probes
