// Which goroutines serve HTTP requests, and which were started while
// serving one: the origin half of the leak verdict. A goroutine a request
// started should end about when the request does; one started at start-up
// usually lives as long as the process (shared/DESIGN.md).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mws::interpret {

// A goroutine that serves requests: net/http's per-connection goroutine,
// and HTTP/2's per-stream handler goroutine (bundled and x/net).
bool is_request_goroutine(std::string_view start_function);

// The request-serving function a goroutine runs ("net/http.(*conn).serve"),
// "" for none: its start function, or, since `go c.serve(ctx)` starts a
// compiler wrapper ("net/http.(*Server).Serve.func3"), the outermost frame
// of its parked stack (leaf first) below the wrapper.
std::string request_served(std::string_view start_function, std::span<const std::string_view> stack);

// A frame every request's stack holds while its handler runs: the request
// goroutines' own functions and net/http's serverHandler.ServeHTTP. A
// creation stack with one was captured while serving a request.
bool is_request_frame(std::string_view function);

// Whether a stack (functions, leaf first) runs a request's handler.
bool runs_request(std::span<const std::string_view> functions);

// A function of the HTTP server itself (net/http, x/net/http2): a goroutine
// its go statement starts belongs to the connection, whoever ran it.
bool is_http_server_function(std::string_view function);

// Whether a creation stack (functions, leaf first: [0] ran the go
// statement) was captured while a request's handler or middleware ran it.
bool started_by_request(std::span<const std::string_view> creation);

// Whether a request goroutine serving `served` (request_served), parked in
// `functions` (leaf first), is inside its handler, rather than waiting for
// its connection's next request.
bool in_handler(std::string_view served, std::span<const std::string_view> functions);

// Goroutines bound to a pooled client connection (net/http's persistConn
// loops, HTTP/2 client read loops), known by the stack they are parked on
// (leaf first; their start function is a compiler wrapper named after the
// dialer, "net/http.(*Transport).dialConn.func6"): they live as long as the
// connection, which the pool closes when idle, whoever dialed it. Like
// I/O, never a leak by wait time.
bool is_connection_goroutine(std::span<const std::string_view> functions);

}  // namespace mws::interpret
