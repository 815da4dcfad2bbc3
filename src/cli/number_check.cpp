#include "cli/number_check.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

namespace mws::cli {

CLI::Validator number_check(const std::string& kind, double min, bool whole) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || (whole && v != std::floor(v)))
          return "'" + s + "' is not " + kind;
        if (v < min) return fmt::format("'{}' is too small: give {} of at least {}", s, kind, min);
        return "";
      },
      "");  // the description is appended to the value's name in --help: none
}

CLI::Validator number_of(const std::string& unit, double min) { return number_check("a number of " + unit, min, false); }

CLI::Validator whole_number_of(const std::string& unit, double min) {
  return number_check("a whole number of " + unit, min, true);
}

CLI::Validator one_of(std::vector<std::string> values) {
  CLI::Validator v = CLI::IsMember(std::move(values));
  v.description("");
  return v;
}

}  // namespace mws::cli
