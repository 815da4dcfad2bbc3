// The input format of fuzz_go_offsets: struct offsets as a target's DWARF
// could claim them, then a memory image the readers run on with them.
//   18 x i64   GoRuntimeOffsets (kOffsetFields order), then GoMOffsets
//              m_procid, m_lockedg, m_alllink
//   the rest   memory at kImageBase: allgs's slice header {ptr, len, cap},
//              then allm (one word), then anything the pointers point at
// Little endian; a short input leaves the missing offsets -1 (absent).
// Shared by the harness and the seed generator (make_fuzz_corpora.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "target/go_abi.h"
#include "target/go_threads.h"

namespace mws::fuzz {

inline constexpr uint64_t kImageBase = 0x7f0000000000;
inline constexpr size_t kOffsetCount = 18;

inline std::vector<int64_t*> offset_fields(target::GoRuntimeOffsets& g, target::GoMOffsets& m) {
  return {&g.g_goid,     &g.g_startpc, &g.g_gopc,   &g.g_atomicstatus, &g.g_waitreason, &g.g_waitsince,
          &g.g_sched_sp, &g.g_sched_bp, &g.g_sched_pc, &g.g_m,         &g.m_curg,       &g.g_syscallsp,
          &g.g_syscallpc, &g.m_g0,     &g.g_parent_goid, &m.m_procid,  &m.m_lockedg,    &m.m_alllink};
}

struct OffsetsInput {
  target::GoRuntimeOffsets g;
  target::GoMOffsets m;
  std::span<const uint8_t> image;
};

inline OffsetsInput decode_offsets_input(std::span<const uint8_t> data) {
  OffsetsInput in;
  size_t pos = 0;
  for (int64_t* f : offset_fields(in.g, in.m)) {
    if (pos + 8 > data.size()) break;
    std::memcpy(f, data.data() + pos, 8);
    pos += 8;
  }
  pos = std::min(pos, data.size());
  in.image = data.subspan(pos);
  return in;
}

inline std::vector<uint8_t> encode_offsets_input(target::GoRuntimeOffsets g, target::GoMOffsets m,
                                                 const std::vector<uint8_t>& image) {
  std::vector<uint8_t> out;
  for (int64_t* f : offset_fields(g, m)) {
    const auto* b = reinterpret_cast<const uint8_t*>(f);
    out.insert(out.end(), b, b + 8);
  }
  out.insert(out.end(), image.begin(), image.end());
  return out;
}

}  // namespace mws::fuzz
