#include "attribute/c_heap_attribution.h"

#include <algorithm>
#include <map>

#include "attribute/attribution.h"

namespace mws::attribute {

void attribute_c_heap(Profile& p, const MiddlewareRules& rules) {
  CHeapSummary& c = p.c_heap;
  if (!c.recorded || p.meta.go_version.empty()) return;  // a plain C process has no middleware
  std::map<std::string, CHeapMiddlewareRow> rows;
  std::vector<std::string_view> functions;
  for (CHeapStack& s : c.stacks) {
    functions.clear();
    bool go = false;
    for (FrameId id : s.frame_ids) {
      functions.push_back(p.frame(id).function);
      go |= functions.back() == "runtime.cgocall";
    }
    auto chain = rules.chain(functions, p.closure_owners);
    s.middleware = owning_row(chain, functions).value_or(go ? kServer : kNoGoroutine);
    CHeapMiddlewareRow& r = rows[s.middleware];
    r.name = s.middleware;
    r.allocs += s.allocs;
    r.bytes += s.bytes;
    r.inuse_objects += s.inuse_objects;
    r.inuse_bytes += s.inuse_bytes;
  }
  c.middleware.clear();
  for (auto& [name, r] : rows) c.middleware.push_back(std::move(r));
  std::sort(c.middleware.begin(), c.middleware.end(), [](const CHeapMiddlewareRow& a, const CHeapMiddlewareRow& b) {
    if (a.inuse_bytes != b.inuse_bytes) return a.inuse_bytes > b.inuse_bytes;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.name < b.name;
  });
}

}  // namespace mws::attribute
