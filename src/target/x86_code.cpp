#include "target/x86_code.h"

namespace mws::target {

bool for_each_instruction(std::span<const uint8_t> code, uint64_t addr, bool detail,
                          const std::function<bool(const cs_insn&)>& visit) {
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return false;
  if (detail) cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = cs_malloc(handle);
  const uint8_t* p = code.data();
  size_t left = code.size();
  while (left > 0) {
    if (!cs_disasm_iter(handle, &p, &left, &addr, insn)) {
      p++, left--, addr++;
      continue;
    }
    if (!visit(*insn)) break;
  }
  cs_free(insn, 1);
  cs_close(&handle);
  return true;
}

bool is_jump(const cs_insn& insn) {
  if (!insn.detail) return false;
  for (uint8_t i = 0; i < insn.detail->groups_count; i++)
    if (insn.detail->groups[i] == CS_GRP_JUMP) return true;
  return false;
}

}  // namespace mws::target
