#include "model/profile.h"

namespace mws {

uint64_t Profile::total_objects() const {
  uint64_t n = 0;
  for (const auto& s : stacks) n += s.objects;
  return n;
}

uint64_t Profile::total_bytes() const {
  uint64_t n = 0;
  for (const auto& s : stacks) n += s.bytes;
  return n;
}

}  // namespace mws
