#include "symbolize/go_closure_names.h"

#include <vector>

namespace mws::symbolize {
namespace {

// Splits "a.(*T).M[...].f" at the dots that separate name parts (not inside
// parentheses or brackets).
std::vector<std::string_view> split_parts(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '(' || c == '[') depth++;
    if ((c == ')' || c == ']') && depth > 0) depth--;
    if (c == '.' && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// "net/http.HandlerFunc.ServeHTTP" -> ("net/http", "HandlerFunc.ServeHTTP").
std::pair<std::string_view, std::string_view> split_package(std::string_view fn) {
  size_t slash = fn.rfind('/');
  size_t dot = fn.find('.', slash == std::string_view::npos ? 0 : slash);
  if (dot == std::string_view::npos) return {fn, {}};
  return {fn.substr(0, dot), fn.substr(dot + 1)};
}

}  // namespace

std::string_view strip_closure_suffixes(std::string_view fn) {
  for (;;) {
    size_t dot = fn.rfind('.');
    if (dot == std::string_view::npos) return fn;
    std::string_view tail = fn.substr(dot + 1);
    std::string_view digits = tail.starts_with("func") ? tail.substr(4) : tail;
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return fn;
    fn = fn.substr(0, dot);
  }
}

std::string inlined_closure_owner(const target::GoPclntab& table, std::string_view closure) {
  const std::string_view base = strip_closure_suffixes(closure);
  if (base == closure || table.function_by_name(base)) return "";  // not a closure, or made by a real function
  const auto [pkg, rest] = split_package(base);
  const auto parts = split_parts(rest);
  if (parts.size() < 2) return "";
  // The longest prefix that is a real function is the one everything was
  // inlined into; the last part is the innermost inlined function, which
  // made the closure.
  for (size_t k = parts.size() - 1; k >= 1; k--) {
    std::string outer(pkg);
    for (size_t i = 0; i < k; i++) outer += "." + std::string(parts[i]);
    auto fn = table.function_by_name(outer);
    if (!fn) continue;
    const std::string_view made_by = parts.back();
    for (std::string_view inlined : table.inlined_functions(*fn))
      if (split_package(inlined).second == made_by) return target::go_func_name_for_print(inlined);
    return std::string(pkg) + "." + std::string(made_by);  // not in the tree: the outer's package
  }
  return "";
}

}  // namespace mws::symbolize
