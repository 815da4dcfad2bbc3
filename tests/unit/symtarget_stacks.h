// Raw stacks of a process that runs the symtarget fixture at `base`, for
// the tests that symbolize stacks the way a recording does (heap frees,
// the goroutine summary): the fixture's ELF, a process mapping it there,
// and the stack symbolizer over it.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "symbolize/process_symbolizer.h"
#include "symbolize/stack_symbolizer.h"
#include "target/elf_file.h"
#include "target/process.h"

namespace mws::test {

struct SymtargetStacks {
  std::unique_ptr<target::ElfFile> elf;
  target::ProcessInfo proc;
  std::unique_ptr<symbolize::ProcessSymbolizer> process;
  std::unique_ptr<symbolize::StackSymbolizer> stacks;
  explicit SymtargetStacks(uint64_t base) {
    auto opened = target::ElfFile::open(std::string(MWS_FIXTURE_DIR) + "/symtarget");
    REQUIRE(opened.ok());
    elf = std::move(*opened);
    proc.pid = getpid();
    proc.exe_display = "/not/mapped/server";
    proc.mappings.push_back(target::Mapping{base, base + 0x10000, 0, true, "", true, false});
    process = std::make_unique<symbolize::ProcessSymbolizer>(proc, *elf, nullptr);
    stacks = std::make_unique<symbolize::StackSymbolizer>(*process);
  }
};

}  // namespace mws::test
