// Checks of numeric option values whose message says what is wrong and what
// is expected, e.g. "'-5' is too small: give a number of seconds of at least
// 0" (CLI11's own range checks print a 309-digit bound and call "abc" out of
// range). They add nothing to the value's name in --help: "--duration
// SECONDS", not "FLOAT:NUMBER".
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace mws::cli {

// A finite number >= min, a whole one when `whole`. `kind`: "a number of seconds".
CLI::Validator number_check(const std::string& kind, double min, bool whole);
CLI::Validator number_of(const std::string& unit, double min);        // "a number of UNIT"
CLI::Validator whole_number_of(const std::string& unit, double min);  // "a whole number of UNIT"
// One of `values`, named in --help by the option's own value name alone
// (its description lists them).
CLI::Validator one_of(std::vector<std::string> values);

}  // namespace mws::cli
