// Middleware rules and attribution on stacks shaped like real ones (frame
// names as Go prints them, leaf first), without root.
#include <catch2/catch.hpp>

#include "attribute/attribution.h"
#include "attribute/middleware_rules.h"
#include "report/folded.h"
#include "profile_helpers.h"

using namespace mws;
using attribute::MiddlewareRules;
using test::make_stack;

namespace {

std::vector<Frame> stack(std::initializer_list<const char*> leaf_first) {
  std::vector<Frame> v;
  for (const char* f : leaf_first) v.push_back(Frame{f, "x.go", 1, false});
  return v;
}


std::vector<Frame> through_server(std::vector<Frame> top) {
  for (const char* f : {"net/http.serverHandler.ServeHTTP", "net/http.(*conn).serve", "net/http.(*Server).Serve.func3",
                        "runtime.goexit"})
    top.push_back(Frame{f, "server.go", 1, false});
  return top;
}

std::vector<std::string> names(const MiddlewareRules& r, const std::vector<Frame>& frames) {
  std::vector<std::string> out;
  for (const auto& m : r.chain(test::functions_of(frames))) out.push_back(m.name);
  return out;
}

MiddlewareRules rules(std::vector<std::string> user = {}) {
  auto r = MiddlewareRules::create(user);
  REQUIRE(r);
  return std::move(*r);
}

}  // namespace

TEST_CASE("middleware are named after what built them", "[attribute]") {
  CHECK(attribute::middleware_name("main.Logging.func1") == "main.Logging");
  CHECK(attribute::middleware_name("main.Watchdog.func1.1") == "main.Watchdog");
  CHECK(attribute::middleware_name("main.(*authMiddleware).ServeHTTP") == "main.authMiddleware");
  CHECK(attribute::middleware_name("github.com/x/y.limiter.ServeHTTP") == "github.com/x/y.limiter");
  CHECK(attribute::middleware_name("main.(*API).getUser-fm") == "main.(*API).getUser");
  CHECK(attribute::middleware_name("main.workHandler") == "main.workHandler");
  CHECK(attribute::middleware_name("main.v2") == "main.v2");  // not a closure suffix
}

TEST_CASE("net/http closures, a ServeHTTP type and the final handler, outermost first", "[attribute]") {
  auto frames = through_server(stack({"runtime.mallocgc", "runtime.newobject", "main.workHandler",
                                      "net/http.HandlerFunc.ServeHTTP", "main.(*authMiddleware).ServeHTTP",
                                      "main.RequestID.func1", "net/http.HandlerFunc.ServeHTTP", "main.Logging.func1",
                                      "net/http.HandlerFunc.ServeHTTP", "net/http.(*ServeMux).ServeHTTP"}));
  CHECK(names(rules(), frames) ==
        std::vector<std::string>{"main.Logging", "main.RequestID", "main.authMiddleware", "main.workHandler"});
}

TEST_CASE("stdlib calls made by a middleware stay with it, and server code is (server)", "[attribute]") {
  Profile p;
  p.requests = {true, 10, ""};
  p.stacks.push_back(make_stack(p, through_server(stack({"runtime.newobject", "context.WithValue", "main.RequestID.func1",
                                            "net/http.HandlerFunc.ServeHTTP"})),
                      10, 480, "context.valueCtx"));
  p.stacks.push_back(make_stack(p, through_server(stack({"runtime.newobject", "net/http.(*Request).WithContext",
                                            "main.RequestID.func1", "net/http.HandlerFunc.ServeHTTP"})),
                      10, 2560, "http.Request"));
  p.stacks.push_back(make_stack(p, stack({"runtime.makeslice", "net/http.readRequest", "net/http.(*conn).readRequest",
                             "net/http.(*conn).serve", "runtime.goexit"}),
                      7, 700, "[]uint8"));
  attribute::attribute_profile(p, rules());
  REQUIRE(p.middleware.size() == 2);
  const MiddlewareRow& rid = p.middleware[0];
  CHECK(rid.name == "main.RequestID");
  CHECK(rid.objects == 20);
  CHECK(rid.bytes == 3040);
  CHECK(rid.objects_per_request == Approx(2.0));
  CHECK(rid.bytes_per_request == Approx(304.0));
  REQUIRE(rid.top_types.size() == 2);
  CHECK(rid.top_types[0].name == "http.Request");
  CHECK(p.middleware[1].name == attribute::kServer);
  CHECK(p.stacks[2].middleware == attribute::kServer);
  CHECK(p.stacks[0].middleware == "main.RequestID");
}

TEST_CASE("gin handlers run by (*Context).Next", "[attribute]") {
  auto frames = through_server(stack(
      {"runtime.newobject", "main.work", "github.com/gin-gonic/gin.(*Context).Next", "main.Auth",
       "github.com/gin-gonic/gin.(*Context).Next", "main.Logger.func1", "github.com/gin-gonic/gin.(*Context).Next",
       "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest", "github.com/gin-gonic/gin.(*Engine).ServeHTTP"}));
  CHECK(names(rules(), frames) == std::vector<std::string>{"main.Logger", "main.Auth", "main.work"});
}

TEST_CASE("echo chains: closures are layers, the first other function is the handler", "[attribute]") {
  auto frames = through_server(stack({"runtime.newobject", "encoding/json.Marshal", "main.work",
                                      "github.com/labstack/echo/v4.(*Echo).add.func1", "main.Auth.func1",
                                      "main.Logger.func1", "github.com/labstack/echo/v4.(*Echo).ServeHTTP.func1",
                                      "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}));
  CHECK(names(rules(), frames) == std::vector<std::string>{"main.Logger", "main.Auth", "main.work"});

  // A layer calling the standard library: the stdlib frame is not a handler.
  auto with_value = through_server(stack({"runtime.newobject", "context.WithValue", "main.RequestID.func1",
                                          "main.Logger.func1", "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}));
  CHECK(names(rules(), with_value) == std::vector<std::string>{"main.Logger", "main.RequestID"});
  auto pool = through_server(stack({"runtime.newobject", "sync.(*Pool).Get",
                                    "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}));
  CHECK(names(rules(), pool).empty());
  // The factory that echo calls per request to rebuild the chain.
  auto factory = through_server(stack({"runtime.newobject", "main.Logger", "github.com/labstack/echo/v4.applyMiddleware",
                                       "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}));
  CHECK(names(rules(), factory) == std::vector<std::string>{"main.Logger"});
}

namespace {

// The row attribute_profile charges one allocation at the leaf of `frames`.
std::string owner(const std::vector<Frame>& frames) {
  Profile p;
  p.stacks.push_back(make_stack(p, frames, 1, 16, ""));
  attribute::attribute_profile(p, rules());
  return p.stacks[0].middleware;
}

// negroni -> gorilla/mux (r.Use) -> alice, as tests/fixtures/glueserver
// runs it: the frames below main.Timing (negroni's own entry), leaf first.
std::vector<Frame> under_negroni(std::vector<Frame> top) {
  for (const char* f : {"github.com/urfave/negroni.HandlerFunc.ServeHTTP", "github.com/urfave/negroni.middleware.ServeHTTP",
                        "github.com/urfave/negroni.(*Negroni).ServeHTTP", "net/http.(*ServeMux).ServeHTTP"})
    top.push_back(Frame{f, "negroni.go", 1, false});
  return through_server(top);
}

// The frames from negroni's `next` closure down to main.Timing.
std::vector<Frame> under_timing(std::vector<Frame> top) {
  for (const char* f : {"github.com/urfave/negroni.middleware.ServeHTTP-fm", "main.Timing"})
    top.push_back(Frame{f, "main.go", 1, false});
  return under_negroni(top);
}

// The frames from the mux router down, through negroni's Wrap.
std::vector<Frame> under_mux(std::vector<Frame> top) {
  for (const char* f : {"github.com/gorilla/mux.(*Router).ServeHTTP", "github.com/urfave/negroni.Wrap.func1",
                        "github.com/urfave/negroni.HandlerFunc.ServeHTTP", "github.com/urfave/negroni.middleware.ServeHTTP"})
    top.push_back(Frame{f, "mux.go", 1, false});
  return under_timing(top);
}

}  // namespace

TEST_CASE("negroni, mux and alice: adapters are not middleware, the user middleware are", "[attribute][glue]") {
  auto work = under_mux(stack({"runtime.newobject", "main.work", "net/http.HandlerFunc.ServeHTTP", "main.Auth.func1",
                               "net/http.HandlerFunc.ServeHTTP", "main.Tracing.func1", "net/http.HandlerFunc.ServeHTTP"}));
  CHECK(names(rules(), work) == std::vector<std::string>{"main.Timing", "main.Tracing", "main.Auth", "main.work"});
  CHECK(owner(work) == "main.work");
  // negroni's bundled middleware live in its own package and stay middleware.
  auto logger = under_negroni(stack({"runtime.newobject", "github.com/urfave/negroni.(*Logger).ServeHTTP"}));
  CHECK(names(rules(), logger) == std::vector<std::string>{"github.com/urfave/negroni.Logger"});
  CHECK(owner(logger) == "github.com/urfave/negroni.Logger");
}

TEST_CASE("what a framework allocates between and around user middleware is the framework's row",
          "[attribute][glue]") {
  // negroni's closure for the next layer, made when main.Timing calls next.
  CHECK(owner(under_timing(stack({"runtime.newobject", "github.com/urfave/negroni.middleware.ServeHTTP"}))) ==
        "github.com/urfave/negroni");
  // ... and around the first layer: its response writer, before any middleware.
  CHECK(owner(under_negroni(stack({"runtime.newobject", "github.com/urfave/negroni.NewResponseWriter"}))) ==
        "github.com/urfave/negroni");
  // mux's route matching and the route variables it puts in the context
  // (standard-library frames between count for the framework that called them).
  CHECK(owner(under_mux(stack({"runtime.makemap_small", "github.com/gorilla/mux.(*Route).Match",
                               "github.com/gorilla/mux.(*Router).Match"}))) == "github.com/gorilla/mux");
  CHECK(owner(under_mux(stack({"runtime.newobject", "context.WithValue", "github.com/gorilla/mux.requestWithVars"}))) ==
        "github.com/gorilla/mux");
  CHECK(owner(under_mux(stack({"runtime.newobject", "net/http.(*Request).WithContext",
                               "github.com/gorilla/mux.requestWithRoute"}))) == "github.com/gorilla/mux");
  // mux calls the r.Use factory per request: the closure it makes is the
  // middleware's own allocation.
  auto factory = under_mux(stack({"runtime.newobject", "main.Tracing", "github.com/gorilla/mux.MiddlewareFunc.Middleware",
                                  "github.com/gorilla/mux.(*Router).Match"}));
  CHECK(owner(factory) == "main.Tracing");
  // A user middleware's own calls into the standard library stay its own.
  CHECK(owner(under_mux(stack({"runtime.newobject", "context.WithValue", "main.Tracing.func1",
                               "net/http.HandlerFunc.ServeHTTP"}))) == "main.Tracing");
}

TEST_CASE("gin, chi and echo glue are their framework's rows, net/http alone is (server)", "[attribute][glue]") {
  // chi's tree lookup, reached when main.auth calls next.
  CHECK(owner(through_server(stack(
            {"runtime.growslice", "github.com/go-chi/chi/v5.(*node).FindRoute", "github.com/go-chi/chi/v5.(*Mux).routeHTTP",
             "github.com/go-chi/chi/v5.(*Mux).routeHTTP-fm", "net/http.HandlerFunc.ServeHTTP", "main.(*auth).ServeHTTP",
             "net/http.HandlerFunc.ServeHTTP", "main.Logger.func1", "net/http.HandlerFunc.ServeHTTP",
             "github.com/go-chi/chi/v5.(*Mux).ServeHTTP"}))) == "github.com/go-chi/chi/v5");
  // chi's sync.Pool New closure is named after main.main (chi.NewRouter was
  // inlined there); it is no middleware, so chi, which called the pool, pays.
  CHECK(owner(through_server(stack({"runtime.newobject", "main.main.func1", "sync.(*Pool).Get",
                                    "github.com/go-chi/chi/v5.(*Mux).ServeHTTP"}))) == "github.com/go-chi/chi/v5");
  // echo's context pool, before the chain.
  CHECK(owner(through_server(stack({"runtime.newobject", "github.com/labstack/echo/v4.(*Echo).NewContext",
                                    "github.com/labstack/echo/v4.(*Echo).ServeHTTP.func1", "sync.(*Pool).Get",
                                    "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}))) == "github.com/labstack/echo/v4");
  // echo's factories run per request: still the middleware's own.
  CHECK(owner(through_server(stack({"runtime.newobject", "main.Logger", "github.com/labstack/echo/v4.applyMiddleware",
                                    "github.com/labstack/echo/v4.(*Echo).ServeHTTP"}))) == "main.Logger");
  CHECK(owner(through_server(stack({"runtime.newobject", "github.com/gin-gonic/gin.(*Engine).allocateContext",
                                    "github.com/gin-gonic/gin.(*Engine).ServeHTTP"}))) == "github.com/gin-gonic/gin");
  CHECK(owner(through_server(stack({"runtime.newobject", "main.work", "github.com/gin-gonic/gin.(*Context).Next",
                                    "github.com/gin-gonic/gin.(*Engine).handleHTTPRequest",
                                    "github.com/gin-gonic/gin.(*Engine).ServeHTTP"}))) == "main.work");
  // A net/http handler function mounted with gin.WrapF is a handler.
  CHECK(owner(through_server(stack({"runtime.makeslice", "main.debugAllocs", "github.com/gin-gonic/gin.WrapF.func1",
                                    "github.com/gin-gonic/gin.(*Context).Next",
                                    "github.com/gin-gonic/gin.(*Engine).ServeHTTP"}))) == "main.debugAllocs");
  // net/http's own router in front of everything stays (server).
  CHECK(owner(through_server(stack({"runtime.newobject", "net/http.(*ServeMux).ServeHTTP"}))) == attribute::kServer);
}

TEST_CASE("a framework row is a row like the others, never part of a chain", "[attribute][glue]") {
  Profile p;
  p.requests = {true, 10, ""};
  p.stacks.push_back(make_stack(
      p, under_timing(stack({"runtime.newobject", "github.com/urfave/negroni.middleware.ServeHTTP"})), 10, 320, ""));
  p.stacks.push_back(make_stack(p, under_negroni(stack({"runtime.newobject", "main.Timing"})), 40, 2560, "[64]uint8"));
  attribute::attribute_profile(p, rules());
  REQUIRE(p.middleware.size() == 2);
  CHECK(p.middleware[0].name == "main.Timing");
  CHECK(p.middleware[0].objects_per_request == Approx(4.0));
  CHECK(p.middleware[1].name == "github.com/urfave/negroni");
  CHECK(p.middleware[1].objects_per_request == Approx(1.0));
  CHECK(p.middleware[1].inclusive_objects == 10);
  REQUIRE(p.chains.size() == 1);
  CHECK(p.chains[0].names == std::vector<std::string>{"main.Timing"});
  CHECK(p.chains[0].objects == 50);  // the chain seen on both stacks
}

TEST_CASE("goroutines belong to the middleware whose code ran the go statement", "[attribute]") {
  Profile p;
  TaskGroup g;
  g.creation_frame_ids = test::intern(p, through_server(stack({"main.Watchdog.func1", "net/http.HandlerFunc.ServeHTTP",
                                           "main.Logging.func1", "net/http.HandlerFunc.ServeHTTP"})));
  g.leaked = 40;
  g.live = 40;
  p.tasks.groups.push_back(g);
  attribute::attribute_profile(p, rules());
  CHECK(p.tasks.groups[0].middleware == "main.Watchdog");
  REQUIRE(!p.middleware.empty());
  CHECK(p.middleware[0].name == "main.Watchdog");
  CHECK(p.middleware[0].leaked_tasks == 40);
  CHECK(p.requests.counted == false);
  CHECK(p.middleware[0].objects_per_request == 0);
}

TEST_CASE("user patterns add middleware and report what they matched", "[attribute]") {
  auto frames = through_server(stack({"runtime.newobject", "myco/api.(*Router).dispatch", "myco/api.Serve"}));
  CHECK(names(rules(), frames).empty());
  CHECK(names(rules({"^myco/api\\.\\(\\*Router\\)"}), frames) == std::vector<std::string>{"myco/api.(*Router).dispatch"});

  Profile p;
  p.stacks.push_back(make_stack(p, frames, 3, 30, ""));
  attribute::attribute_profile(p, rules({"dispatch$", "nothing-matches-this"}));
  REQUIRE(p.user_rules.size() == 2);
  CHECK(p.user_rules[0].frames_matched == 1);
  CHECK(p.user_rules[0].functions == std::vector<std::string>{"myco/api.(*Router).dispatch"});
  CHECK(p.user_rules[1].frames_matched == 0);
}

TEST_CASE("a pattern that does not compile is a one-line error", "[attribute]") {
  auto r = MiddlewareRules::create({"main.(Logging"});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("main.(Logging") != std::string::npos);
  CHECK(r.error().message.find('\n') == std::string::npos);
}

TEST_CASE("folded stacks grouped by middleware start with the owning middleware", "[attribute]") {
  Profile p;
  p.stacks.push_back(make_stack(p, through_server(stack({"runtime.newobject", "main.Logging.func1", "net/http.HandlerFunc.ServeHTTP"})),
                      3, 192, ""));
  p.stacks.push_back(make_stack(p, stack({"runtime.makeslice", "net/http.readRequest", "runtime.goexit"}), 2, 20, ""));
  attribute::attribute_profile(p, rules());
  const std::string out = render_folded(p, Weight::Objects, true);
  CHECK(out.find("(server);") == 0);  // lines sorted: '(' sorts before 'm'
  CHECK(out.find("(server);runtime.goexit;net/http.readRequest;runtime.makeslice 2\n") != std::string::npos);
  CHECK(out.find("main.Logging;runtime.goexit;net/http.(*Server).Serve.func3;") != std::string::npos);
  CHECK(render_folded(p, Weight::Objects, false).find("main.Logging;") == std::string::npos);
}

TEST_CASE("samples and heap in use are charged like objects, and growth per minute is the change since attach",
          "[attribute]") {
  Profile p;
  p.meta.mode = "sampled";
  p.meta.duration_s = 30;  // half a minute: growth per minute is twice the change
  p.meta.heap_read = true;
  p.meta.gc_cycles = 4;
  auto sampled = [&p](std::vector<Frame> frames, std::string type, uint64_t samples, int64_t inuse_objects,
                      int64_t inuse_bytes, int64_t change_bytes) {
    ProfileStack s = make_stack(p, frames, samples * 10, samples * 640, std::move(type));
    s.samples = samples;
    s.inuse_objects = inuse_objects;
    s.inuse_bytes = inuse_bytes;
    s.inuse_change_bytes = change_bytes;
    return s;
  };
  const auto logging = through_server(stack({"runtime.newobject", "main.Logging.func1", "net/http.HandlerFunc.ServeHTTP"}));
  const auto logging_slice = through_server(stack({"runtime.makeslice", "main.Logging.func1", "net/http.HandlerFunc.ServeHTTP"}));
  const auto auth = through_server(stack({"runtime.newobject", "main.Auth.func1", "net/http.HandlerFunc.ServeHTTP",
                                          "main.Logging.func1", "net/http.HandlerFunc.ServeHTTP"}));
  p.stacks.push_back(sampled(logging, "[]uint8", 12, 90, 5760, 5000));
  p.stacks.push_back(sampled(logging_slice, "[]uint8", 3, 30, 1920, 1000));
  p.stacks.push_back(sampled(auth, "main.token", 5, 20, 1280, -640));
  // Tiny blocks sampled: 30 at Logging, 10 at Auth; the 100 tiny
  // allocations the sampler missed are shared 3 to 1.
  p.stacks[0].tiny_block_objects = 30;
  p.stacks[2].tiny_block_objects = 10;
  p.meta.tiny_allocs = 100;
  attribute::attribute_profile(p, rules());

  REQUIRE(p.middleware.size() == 2);
  const MiddlewareRow& log = p.middleware[0];
  REQUIRE(log.name == "main.Logging");
  CHECK(log.samples == 15);
  CHECK(log.inuse_objects == 120);
  CHECK(log.inuse_bytes == 7680);
  CHECK(log.inuse_change_bytes == 6000);
  CHECK(log.inuse_bytes_per_min == Approx(12000.0));
  CHECK(log.tiny_allocs_missed == 75);
  CHECK(p.middleware[1].tiny_allocs_missed == 25);
  REQUIRE(log.top_types.size() == 1);
  CHECK(log.top_types[0].inuse_bytes == 7680);
  REQUIRE(!log.top_sites.empty());
  CHECK(log.top_sites[0].inuse_bytes == 7680);  // both stacks allocate at main.Logging.func1 x.go:1

  const MiddlewareRow& a = p.middleware[1];
  REQUIRE(a.name == "main.Auth");
  CHECK(a.samples == 5);  // self only: not added to Logging above
  CHECK(a.inuse_objects == 20);
  CHECK(a.inuse_bytes == 1280);
  CHECK(a.inuse_change_bytes == -640);
  CHECK(a.inuse_bytes_per_min == Approx(-1280.0));
  CHECK(a.top_types[0].name == "main.token");
  CHECK(a.top_types[0].inuse_bytes == 1280);

  p.meta.gc_cycles = 0;  // no GC between the readings: no change can show, no growth
  attribute::attribute_profile(p, rules());
  CHECK(p.middleware[0].inuse_bytes_per_min == 0);
  CHECK(p.middleware[0].inuse_bytes == 7680);
}

// ---------------------------------------------------------------- leak verdict

namespace {

GoroutineEvidence evidence(uint64_t count, bool blocked_long, uint64_t at_attach = 0) {
  GoroutineEvidence e;
  e.count = count;
  e.blocked_long = blocked_long;
  e.at_attach = at_attach;
  return e;
}

// A group read at the end, created by a go statement in `creator` alone
// (one frame, as g.gopc gives it).
GoroutineGroup group_created_in(Profile& p, const char* creator, const char* start,
                                std::vector<GoroutineEvidence> ev) {
  GoroutineGroup g;
  g.frame_ids = test::intern(p, stack({"runtime.gopark", start, "runtime.goexit"}));
  g.creation_frame_ids = test::intern(p, stack({creator}));
  g.start_function = start;
  for (const auto& e : ev) g.count += e.count;
  g.at_attach = g.count;  // no growth unless a test says so
  g.evidence = std::move(ev);
  return g;
}

const GoroutineGroup& by_start(const Profile& p, const std::string& start) {
  for (const auto& g : p.goroutines.groups)
    if (g.start_function == start) return g;
  FAIL("no group " << start);
  return p.goroutines.groups.front();
}

}  // namespace

TEST_CASE("leak verdict: blocked long is leaked only when a request started it, start-up goroutines are long-lived",
          "[attribute][leaks]") {
  Profile p;
  p.goroutines.read = true;
  // A stack that shows main.Watchdog.func1 as middleware: its go statement
  // alone then counts as request code.
  p.stacks.push_back(make_stack(
      p, through_server(stack({"runtime.makechan", "main.Watchdog.func1", "net/http.HandlerFunc.ServeHTTP"})), 1, 96));
  p.goroutines.groups = {
      // 5 blocked long, 2 not yet: only the 5 leaked, by origin.
      group_created_in(p, "main.Watchdog.func1", "main.Watchdog.func1.1", {evidence(5, true, 5), evidence(2, false)}),
      // The same wait from a start-up loop: long-lived, never leaked.
      group_created_in(p, "main.main", "main.maintenance", {evidence(3, true)}),
  };
  attribute::attribute_profile(p, rules());
  const GoroutineGroup& leak = by_start(p, "main.Watchdog.func1.1");
  CHECK(leak.origin == "request");
  CHECK(leak.leaked == 5);
  CHECK(leak.leaked_per_request == 5);
  CHECK(leak.leaked_before_attach == 5);
  CHECK(leak.leaked_unreachable == 0);
  CHECK(leak.long_lived + leak.suspect + leak.in_flight == 0);
  CHECK(leak.middleware == "main.Watchdog");  // the pprof label agrees with the row
  CHECK(leak_why(leak) == "per request");
  const GoroutineGroup& loop = by_start(p, "main.maintenance");
  CHECK(loop.origin == "start-up");
  CHECK(loop.leaked == 0);
  CHECK(loop.long_lived == 3);
  CHECK(p.goroutines.leaked == 5);
  CHECK(p.goroutines.long_lived == 3);
  CHECK(p.goroutines.groups.front().start_function == "main.Watchdog.func1.1");  // most leaked first
  // Without spawn tracking, the reading is what the middleware row counts.
  bool found = false;
  for (const auto& m : p.middleware)
    if (m.name == "main.Watchdog") {
      found = true;
      CHECK(m.leaked_tasks == 5);
    }
  CHECK(found);
}

TEST_CASE("leak verdict: unreachable and Go's mark leak whatever the origin, a creator serving a request makes it "
          "per request, a stuck request is in flight, growth or an unfinished scan makes it suspect",
          "[attribute][leaks]") {
  Profile p;
  p.goroutines.read = true;
  GoroutineEvidence unreachable = evidence(4, false);
  unreachable.unreachable = true;
  GoroutineEvidence go_says = evidence(2, true);
  go_says.go_says = true;
  GoroutineEvidence from_request = evidence(3, true);
  from_request.from_request = true;
  GoroutineEvidence stuck = evidence(1, false);
  stuck.in_flight = true;
  GoroutineEvidence undecided = evidence(6, true);
  undecided.undecided = true;
  GoroutineGroup grown = group_created_in(p, "github.com/x/y.(*Pool).grow", "github.com/x/y.(*Pool).worker",
                                          {evidence(7, true)});
  grown.at_attach = 2;
  p.goroutines.groups = {
      group_created_in(p, "main.main", "main.orphan", {unreachable, go_says}),
      group_created_in(p, "github.com/x/y.(*Cache).fill", "github.com/x/y.(*Cache).fill.func1", {from_request}),
      group_created_in(p, "net/http.(*Server).Serve", "net/http.(*conn).serve", {stuck}),
      group_created_in(p, "main.main", "main.cleaner", {undecided}),
      grown,
  };
  attribute::attribute_profile(p, rules());
  const GoroutineGroup& orphan = by_start(p, "main.orphan");
  CHECK(orphan.origin == "start-up");
  CHECK(orphan.leaked == 6);
  CHECK(orphan.leaked_unreachable == 4);
  CHECK(orphan.leaked_go_says == 2);
  CHECK(orphan.leaked_per_request == 0);
  CHECK(leak_why(orphan) == "unreachable+Go says");
  const GoroutineGroup& fill = by_start(p, "github.com/x/y.(*Cache).fill.func1");
  CHECK(fill.leaked == 3);
  CHECK(fill.leaked_per_request == 3);
  const GoroutineGroup& conn = by_start(p, "net/http.(*conn).serve");
  CHECK(conn.leaked == 0);
  CHECK(conn.in_flight == 1);
  CHECK(by_start(p, "main.cleaner").suspect == 6);
  CHECK(by_start(p, "github.com/x/y.(*Pool).worker").suspect == 7);
  CHECK(p.goroutines.leaked == 9);
  CHECK(p.goroutines.in_flight == 1);
  CHECK(p.goroutines.suspect == 13);
  CHECK(p.goroutines.long_lived == 0);
}
