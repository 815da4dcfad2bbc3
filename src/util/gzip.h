// gzip (RFC 1952) of a byte string, with zlib: what pprof files are.
#pragma once

#include <string>
#include <string_view>

namespace mws {

// The gzip member holding `bytes`. Throws std::bad_alloc when zlib cannot
// get memory (the caller reports it like any other out-of-memory).
std::string gzip(std::string_view bytes);
// The bytes of a gzip member; empty when `compressed` is not gzip.
std::string gunzip(std::string_view compressed);

}  // namespace mws
