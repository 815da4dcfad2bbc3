#include "symbolize/go_symbolizer.h"

namespace mws::symbolize {

Result<std::unique_ptr<GoSymbolizer>> GoSymbolizer::create(const target::ElfFile& elf, std::string_view go_version) {
  auto t = target::GoPclntab::parse(elf, go_version);
  if (!t) return t.error();
  return std::make_unique<GoSymbolizer>(std::move(t.value()));
}

namespace {

// Go's elideWrapperCalling: a wrapper that called a panic function (instead
// of the wrapped function) stays in the stack.
bool elide_wrapper_calling(std::string_view callee) {
  return !(callee == "runtime.gopanic" || callee == "runtime.sigpanic" || callee == "runtime.panicwrap");
}

}  // namespace

int GoSymbolizer::wrapper_id() {
  std::call_once(wrapper_once_, [this] {
    // funcID numbering changes between Go versions, but the wrapper ID is
    // always the last one, and every binary has wrappers (ABI wrappers at
    // least): take the largest funcID in the table.
    int max_id = 0;
    for (size_t i = 0; i < table_.function_count(); i++)
      max_id = std::max<int>(max_id, table_.func_id(table_.function(i)));
    if (max_id >= 16) wrapper_id_ = max_id;
  });
  return wrapper_id_;
}

// A physical wrapper frame, as Go's traceback drops it from Callers' PCs
// (tracebackPCs / gentraceback: funcID_wrapper and elideWrapperCalling; the
// callee being a panic function is not the case of an allocation's stack).
bool GoSymbolizer::elided_by_callers(uint64_t pc) {
  const int id = wrapper_id();
  if (id < 0) return false;
  auto f = table_.find_function(pc);
  return f && table_.func_id(*f) == id;
}

std::vector<Frame> GoSymbolizer::symbolize(uint64_t pc) {
  const int wrapper = wrapper_id();
  std::vector<Frame> out;
  auto levels = table_.expand(pc);
  std::string_view callee;  // the frame below: none for the innermost one (a normal callee)
  for (const auto& l : levels) {
    bool elide = l.inlined && wrapper >= 0 && l.func_id == wrapper && elide_wrapper_calling(callee);
    callee = l.function;
    if (elide) continue;
    Frame f;
    f.function = target::go_func_name_for_print(l.function);
    f.file = std::string(l.file);
    f.line = l.line > 0 ? static_cast<uint32_t>(l.line) : 0;
    f.inlined = l.inlined;
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace mws::symbolize
