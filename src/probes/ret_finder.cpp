#include "probes/ret_finder.h"

#include <capstone/capstone.h>

namespace mws::probes {

std::vector<uint64_t> find_ret_instructions(std::span<const uint8_t> code, uint64_t entry_addr) {
  std::vector<uint64_t> rets;
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return rets;
  cs_insn* insn = cs_malloc(handle);
  const uint8_t* p = code.data();
  size_t left = code.size();
  uint64_t addr = entry_addr;
  while (left > 0) {
    if (!cs_disasm_iter(handle, &p, &left, &addr, insn)) {
      p++;
      left--;
      addr++;
      continue;
    }
    // ENDBR64 (CET) never occurs in Go code, but C functions start with
    // it; it is decoded like any other instruction and skipped here.
    if (insn->id == X86_INS_RET) rets.push_back(insn->address);
  }
  cs_free(insn, 1);
  cs_close(&handle);
  return rets;
}

}  // namespace mws::probes
