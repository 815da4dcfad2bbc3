// The C heap's pure parts: where g lives in TLS, how BPF finds the goroutine
// behind a cgo call in each fixture build (checked against the binary's own
// code and symbols), the tracker's bookkeeping, and native symbols.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "bpf/events.h"
#include "fixture_builds.h"
#include "model/c_heap_tracker.h"
#include "probes/c_heap_plan.h"
#include "probes/prologue.h"
#include "symbolize/elf_symbolizer.h"
#include "target/elf_file.h"
#include "target/go_abi.h"
#include "target/go_buildinfo.h"
#include "target/gopclntab.h"
#include "target/process.h"

using namespace mws;

namespace {
std::string fixture(const std::string& name) { return std::string(MWS_FIXTURE_DIR) + "/" + name; }
}  // namespace

TEST_CASE("g's TLS slot ends the executable's TLS block", "[c_heap]") {
  // Go's own layout: the only word of an 8-byte block, at FS-8.
  CHECK(probes::go_tls_g_offset(target::ElfSegment{0, 0, 0, 8, 0, 8}, 0) == -8);
  // C thread-locals beside it (32 bytes, aligned 16), g at 16 in them.
  CHECK(probes::go_tls_g_offset(target::ElfSegment{0, 0, 0, 28, 0, 16}, 16) == -16);
}

TEST_CASE("cgo context of every fixture build agrees with its symbols and code", "[c_heap]") {
  for (const std::string& build : test::fixture_builds()) {
    INFO(build);
    auto elf = target::ElfFile::open(fixture(build + "cmemserver"));
    REQUIRE(elf.ok());
    auto info = target::read_go_buildinfo(**elf);
    REQUIRE(info);
    auto offsets = target::go_runtime_offsets(**elf, info->version);
    REQUIRE(offsets.ok());
    auto cgo = probes::plan_cgo_context(**elf, info->version, *offsets, 0);
    INFO((cgo ? std::string() : cgo.error().message));
    REQUIRE(cgo.ok());
    auto tlsg = (*elf)->find_tls_symbol("runtime.tlsg");
    REQUIRE(tlsg);
    CHECK(cgo->tls_g_offset == probes::go_tls_g_offset(*(*elf)->tls_segment(), tlsg->value));
    // The return from entersyscall lies in runtime.cgocall, whose frame
    // pointer sits one word below its frame's top there.
    auto cgocall = (*elf)->find_symbol("runtime.cgocall");
    REQUIRE(cgocall);
    CHECK(cgo->cgocall_ret > cgocall->value);
    CHECK(cgo->cgocall_ret < cgocall->value + cgocall->size);
    CHECK(cgo->cgocall_bp_from_sp >= 8);
    CHECK(cgo->cgocall_bp_from_sp % 8 == 0);
    CHECK(cgo->g_syscallpc == cgo->g_syscallsp + 8);

    // The function table's entries are the symbols' (the external linker
    // puts C code before Go's text; Go 1.27 leaves the header's text start 0).
    auto tab = target::GoPclntab::parse(**elf, info->version);
    REQUIRE(tab.ok());
    size_t go = 0, same = 0;
    for (const auto& s : (*elf)->symbols()) {
      if (!s.is_function || s.size == 0 || !tab->function_by_name(s.name)) continue;
      go++;
      auto f = tab->find_function(s.value);
      if (f && f->entry == s.value) same++;
    }
    CHECK(go > 1000);
    CHECK(same == go);
    CHECK(tab->sp_delta(cgocall->value) == 0);
  }
}

TEST_CASE("C heap tracker: frees match their block, unknown ones are counted apart", "[c_heap]") {
  model::CHeapTracker heap;
  const uint64_t a[] = {0x1000, 0x2000};
  const uint64_t b[] = {0x1000, 0x3000};
  const model::CStackShape malloc_shape{MWS_C_MALLOC, 2, false};
  heap.on_alloc(a, malloc_shape, 0x10, 100, 0, 1);
  heap.on_alloc(a, malloc_shape, 0x20, 100, 0, 2);
  heap.on_alloc(b, malloc_shape, 0x30, 50, 0, 3);
  heap.on_free(0x10, 112);
  heap.on_free(0x99, 48);  // allocated before attach
  // realloc(0x30, 70) moved it to 0x40: the old block freed, a new one at b.
  heap.on_alloc(b, {MWS_C_REALLOC, 2, false}, 0x40, 70, 0x30, 4);
  // A failed allocation changes nothing; realloc(p, 0) frees p.
  heap.on_alloc(a, malloc_shape, 0, 100, 0, 5);
  heap.on_alloc(b, {MWS_C_REALLOC, 2, false}, 0, 0, 0x40, 6);

  CHECK(heap.frees_before_attach() == 1);
  CHECK(heap.chunk_bytes_freed_before_attach() == 48);
  CHECK(heap.live().size() == 1);
  CHECK(heap.live().count(0x20) == 1);
  uint64_t allocs = 0, bytes = 0, frees = 0, freed = 0;
  for (const auto& [key, c] : heap.counts()) {
    allocs += c.allocs;
    bytes += c.bytes;
    frees += c.frees;
    freed += c.freed_bytes;
  }
  CHECK(allocs == 4);
  CHECK(bytes == 320);
  CHECK(frees == 3);
  CHECK(freed == 220);
  CHECK(heap.dropped() == 0);
}

TEST_CASE("C heap tracker: a full live table drops and counts", "[c_heap]") {
  model::CHeapTracker heap(2);
  const uint64_t s[] = {0x1000};
  for (uint64_t p = 1; p <= 3; p++) heap.on_alloc(s, {MWS_C_MALLOC, 1, false}, p * 16, 8, 0, p);
  CHECK(heap.live().size() == 2);
  CHECK(heap.dropped() == 1);
}

TEST_CASE("this process's libc: the allocator's sites, and its exports named", "[c_heap]") {
  auto proc = target::inspect_process(getpid());
  REQUIRE(proc.ok());
  auto plan = probes::plan_c_heap(*proc, "this test");
  INFO((plan ? std::string() : plan.error().message));
  REQUIRE(plan.ok());
  REQUIRE(!plan->allocs.empty());
  CHECK(plan->allocs.front().symbol == "malloc");
  CHECK(plan->free.symbol == "free");
  for (size_t i = 0; i < plan->allocs.size(); i++)
    for (size_t j = i + 1; j < plan->allocs.size(); j++) CHECK(plan->allocs[i].file_offset != plan->allocs[j].file_offset);

  auto libc = target::ElfFile::open(plan->libc_path);
  REQUIRE(libc.ok());
  auto malloc_sym = (*libc)->find_dynamic_symbol("malloc");
  REQUIRE(malloc_sym);
  symbolize::ElfSymbolizer sym(std::move(*libc));
  auto frames = sym.symbolize(malloc_sym->value + 1);
  REQUIRE(frames.size() == 1);
  CHECK((frames[0].function == "malloc" || frames[0].function == "__libc_malloc"));
  CHECK(symbolize::demangle("_ZN3foo3barEv") == "foo::bar()");
  CHECK(symbolize::demangle("leak_block") == "leak_block");
}

TEST_CASE("C entry probes skip a leading TEST or CMP to the jump after it", "[c_heap]") {
  // glibc 2.36's free: TEST RDI, RDI; JE ...; PUSH RBP
  const uint8_t free_code[] = {0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55};
  CHECK(probes::find_c_entry_probe_offset(free_code, 0x98ef0) == 3);
  // malloc: PUSH R12 (emulated) at the entry.
  const uint8_t malloc_code[] = {0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb};
  CHECK(probes::find_c_entry_probe_offset(malloc_code, 0x98930) == 0);
  // A MOV first writes a register: the entry it is, single-stepped.
  const uint8_t mov_code[] = {0x48, 0x89, 0xfb, 0x74, 0x02, 0x55};
  CHECK(probes::find_c_entry_probe_offset(mov_code, 0) == 0);
  // CMP then an unconditional JMP: not a jcc, so the entry.
  const uint8_t cmp_jmp[] = {0x48, 0x39, 0xf7, 0xeb, 0x02, 0x55};
  CHECK(probes::find_c_entry_probe_offset(cmp_jmp, 0) == 0);
}
