// Shortening names for the text tables (report/text_format.h): from the
// left, a Go name's package path first, never in the middle, never inside a
// UTF-8 sequence.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "model/profile.h"
#include "report/text.h"
#include "report/text_format.h"
#include "report/weight.h"

using namespace mws;
using namespace mws::textfmt;

namespace {

// Every prefix of s ends on a code point boundary: no cut UTF-8 sequence.
bool whole_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST_CASE("shorten_name: a name that fits is left alone", "[report][textfmt]") {
  const std::string n = "github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver.(*FileServer).ServeHTTP";
  CHECK(shorten_name(n, width(n)) == n);
  CHECK(shorten_name("main.F", 6) == "main.F");
  CHECK(shorten_name("", 0).empty());
}

TEST_CASE("shorten_name: a Go name loses its package path first, keeps receiver and method", "[report][textfmt]") {
  const std::string n = "github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver.(*FileServer).ServeHTTP";
  CHECK(shorten_name(n, 40) == "fileserver.(*FileServer).ServeHTTP");
  CHECK(shorten_name("net/http.HandlerFunc.ServeHTTP", 29) == "http.HandlerFunc.ServeHTTP");
  // A '/' inside type arguments is not the package path.
  CHECK(shorten_name("github.com/a/b.(*T[github.com/x/y.Z]).M", 30) == "b.(*T[github.com/x/y.Z]).M");
  CHECK(shorten_name("github.com/a/b.F[go.shape.*example.org/p.T]", 40) == "b.F[go.shape.*example.org/p.T]");
  // A type keeps its pointer and slice marks.
  CHECK(shorten_name("[]*net/http.Request", 18) == "[]*http.Request");
  CHECK(shorten_name("*github.com/gin-gonic/gin.Context", 20) == "*gin.Context");
  // "function location": the path of the function goes, the location stays.
  CHECK(shorten_name("net/textproto.readMIMEHeader reader.go:567", 40) == "textproto.readMIMEHeader reader.go:567");
}

TEST_CASE("shorten_name: still too long, the leading characters go behind a '…'", "[report][textfmt]") {
  const std::string n = "github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver.(*FileServer).ServeHTTP";
  CHECK(shorten_name(n, 20) == "…leServer).ServeHTTP");
  CHECK(shorten_name(n, 1) == "…");
  CHECK(shorten_name(n, 0).empty());
  // No middle elision at any width: what is kept is the name's tail.
  for (size_t w = 1; w < n.size(); ++w) {
    const std::string s = shorten_name(n, w);
    INFO(w << ": " << s);
    CHECK(width(s) <= w);
    const std::string kept = s.rfind("…", 0) == 0 ? s.substr(3) : s;
    CHECK(n.compare(n.size() - kept.size(), kept.size(), kept) == 0);
    CHECK(kept.find("…") == std::string::npos);
  }
}

TEST_CASE("shorten_name: C and C++ names keep their tail", "[report][textfmt]") {
  const std::string cpp = "std::vector<std::basic_string<char>, std::allocator<char>>::_M_realloc_insert";
  CHECK(shorten_name(cpp, 20) == "…::_M_realloc_insert");
  CHECK(shorten_name("__libc_start_main_impl", 10) == "…main_impl");
  CHECK(keep_tail("/usr/local/bin/caddy", 10) == "…bin/caddy");
}

TEST_CASE("shorten_name, keep_tail, clip_end: never split a UTF-8 sequence", "[report][textfmt]") {
  const std::string n = "example.org/ünïcødé/pkg.(*Größe).Übersetzen·λ→";
  for (size_t w = 0; w <= width(n) + 1; ++w) {
    INFO(w);
    CHECK(whole_utf8(shorten_name(n, w)));
    CHECK(width(shorten_name(n, w)) <= w);
    CHECK(whole_utf8(keep_tail(n, w)));
    CHECK(width(keep_tail(n, w)) <= w);
    CHECK(whole_utf8(clip_end(n, w)));
    CHECK(width(clip_end(n, w)) <= w);
  }
  CHECK(shorten_name(n, 22) == "…*Größe).Übersetzen·λ→");
  CHECK(shorten_name(n, 26) == "pkg.(*Größe).Übersetzen·λ→");
}

TEST_CASE("clip_end: prose keeps its start", "[report][textfmt]") {
  CHECK(clip_end("3 leaked: unreachable, 2 in flight", 12) == "3 leaked: u…");
  CHECK(clip_end("short", 12) == "short");
}

TEST_CASE("name_at: the location stays whole, the function is shortened", "[report][textfmt]") {
  CHECK(name_at("github.com/x/y/middleware.(*Limiter).Wait", "middleware/limit.go:88", 50) ==
        "middleware.(*Limiter).Wait middleware/limit.go:88");
  const std::string s = name_at("github.com/x/y/middleware.(*Limiter).Wait", "middleware/limit.go:88", 45);
  CHECK(s == "…eware.(*Limiter).Wait middleware/limit.go:88");
  CHECK(width(s) <= 45);
  CHECK(s.size() > 22);
  CHECK(s.substr(s.size() - 22) == "middleware/limit.go:88");
  CHECK(name_at("main.F", "", 10) == "main.F");
  // Narrower than 20 columns for the name: both lose their left end.
  CHECK(name_at("github.com/x/y/middleware.(*Limiter).Wait", "middleware/limit.go:88", 32) ==
        "…are.(*Limiter).Wait …imit.go:88");
}

TEST_CASE("fit_list: whole items that fit, and how many did not", "[report][textfmt]") {
  const std::vector<std::string> items{"runtime.g (44.4 KiB x116)", "http.Request (131.2 KiB x600)",
                                       "[]*runtime.g (4.8 KiB x3)"};
  CHECK(fit_list(items, ", ", 200) == "runtime.g (44.4 KiB x116), http.Request (131.2 KiB x600), []*runtime.g (4.8 KiB x3)");
  CHECK(fit_list(items, ", ", 70) == "runtime.g (44.4 KiB x116), http.Request (131.2 KiB x600), … +1 more");
  CHECK(fit_list(items, ", ", 40) == "runtime.g (44.4 KiB x116), … +2 more");
  for (size_t w = 0; w <= 100; ++w) CHECK(width(fit_list(items, ", ", w)) <= w);
}

TEST_CASE("text: long middleware and type names are shortened from the left", "[report][textfmt]") {
  Profile p;
  p.meta.mode = "exact";
  p.meta.allocations_tracked = true;
  const std::string caddy = "github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver.(*FileServer).ServeHTTP";
  MiddlewareRow m{.name = caddy, .objects = 10, .bytes = 1000};
  m.top_types = {NamedCount{"net/http.Request", 5, 600, 0},
                 NamedCount{"github.com/caddyserver/caddy/v2/modules/caddyhttp.responseWriterWrapper", 5, 400, 0}};
  m.top_sites = {NamedCount{caddy + " staticfiles.go:42", 10, 1000, 0}};
  p.middleware = {m};
  const std::string out = render_text(p, Weight::Bytes, 10);
  INFO(out);
  CHECK(out.find("fileserver.(*FileServer).ServeHTTP  ") != std::string::npos);  // the table's name column
  CHECK(out.find("types: net/http.Request (600 B x5), caddyhttp.responseWriterWrapper (400 B x5)") !=
        std::string::npos);
  CHECK(out.find("...") == std::string::npos);  // nothing elided in the middle
}
