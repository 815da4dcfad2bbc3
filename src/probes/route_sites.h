// Where each router in a Go binary first knows which route a request
// matched (docs/design/routes.md, section 1): one instruction per router
// that the kernel emulates (a CALL rel32, a jcc/jmp, a 1-byte NOP), found by
// disassembling the router's dispatch function, and how the pattern is
// read there (bpf/events.h, struct mws_route_site). Works on stripped
// binaries: the function table comes from .gopclntab, the layouts of the
// routers' structs from the module versions in .go.buildinfo.
#pragma once

#include <string>
#include <vector>

#include "bpf/events.h"
#include "probes/go_probes.h"
#include "target/elf_file.h"
#include "target/go_buildinfo.h"
#include "target/go_functions.h"

namespace mws::probes {

struct RouteSite {
  ProbeSite probe;       // where on_route is attached (its vaddr is the key of map route_sites)
  mws_route_site spec{};  // how on_route reads the pattern there
  std::string router;    // "net/http.ServeMux", "gin", "chi", "echo", "gorilla/mux"
};

struct RouteSites {
  std::vector<RouteSite> sites;
  // One line per router present in the binary whose site was not found or
  // whose layout is unknown ("gin v1.9.1: Context layout unknown, no routes
  // from gin"): said in the report, never guessed.
  std::vector<std::string> refused;
};

// Every router of the binary: ServeMux (both pattern syntaxes, and the
// httpmuxgo121 path of 1.22+), gin, chi v5, echo v4, gorilla/mux.
RouteSites find_route_sites(const target::ElfFile& exe, const target::GoFunctionIndex& functions,
                            const target::GoBuildInfo& build);

// Where net/http.(*conn).serve keeps the request's response while it calls
// serverHandler.ServeHTTP (bpf/events.h, "Routes": sampled mode names each
// request by it): the return address of that call and the response's slot
// from conn.serve's frame pointer. Or why not.
Result<mws_request_key_site> find_request_key_site(const target::ElfFile& exe, const target::GoFunctionIndex& functions);

}  // namespace mws::probes
