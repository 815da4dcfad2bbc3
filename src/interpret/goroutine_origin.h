// Which goroutines serve HTTP requests, and which were started while
// serving one: the origin half of the leak verdict. A goroutine a request
// started should end about when the request does; one started at start-up
// usually lives as long as the process (shared/DESIGN.md).
#pragma once

#include <span>
#include <string_view>

namespace mws::interpret {

// A goroutine that serves requests: net/http's per-connection goroutine,
// and HTTP/2's per-stream handler goroutine (bundled and x/net).
bool is_request_goroutine(std::string_view start_function);

// A frame every request's stack holds while its handler runs: the request
// goroutines' own functions and net/http's serverHandler.ServeHTTP. A
// creation stack with one was captured while serving a request.
bool is_request_frame(std::string_view function);

// Whether a stack (functions, leaf first) runs a request's handler.
bool runs_request(std::span<const std::string_view> functions);

// Whether a request goroutine parked in `functions` (leaf first) is inside
// its handler, rather than waiting for its connection's next request.
bool in_handler(std::string_view start_function, std::span<const std::string_view> functions);

// Goroutines bound to a pooled client connection (net/http's persistConn
// loops, HTTP/2 client read loops), known by the stack they are parked on
// (leaf first; their start function is a compiler wrapper named after the
// dialer, "net/http.(*Transport).dialConn.func6"): they live as long as the
// connection, which the pool closes when idle, whoever dialed it. Like
// I/O, never a leak by wait time.
bool is_connection_goroutine(std::span<const std::string_view> functions);

}  // namespace mws::interpret
