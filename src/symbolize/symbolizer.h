// Symbolization sits behind one interface, one implementation per source
// (Go's .gopclntab, ELF .symtab, ...), with a caching layer in front.
// It runs after recording, never on the event path.
#pragma once

#include <cstdint>
#include <vector>

#include "model/profile.h"

namespace mws::symbolize {

// Symbolizes code addresses of one binary, in that binary's link-time
// (virtual) address space.
class BinarySymbolizer {
 public:
  virtual ~BinarySymbolizer() = default;
  // `pc` is an address inside an instruction (for a return address, pass
  // return address - 1, so a call at the end of a function resolves to its
  // call site). Returns frames innermost first: inlined callees (inlined =
  // true) before the physical function that holds the pc. Empty when pc is
  // in no known function.
  virtual std::vector<Frame> symbolize(uint64_t pc) = 0;
};

}  // namespace mws::symbolize
