// The one sanitizer for text that came from the target (paths, comm, build
// info, function, type, label and thread names) on its way to a terminal or
// a text report: a hostile target must not drive the SRE's terminal (ESC
// sequences retitle, clear or rewrite it; C1 controls such as U+009B CSI do
// the same on many terminals) nor break a line of the report. JSON and
// pprof escape by their own rules instead.
#pragma once

#include <string>
#include <string_view>

namespace mws {

// `s` with every C0 control (0x00-0x1F), DEL, C1 control (U+0080-U+009F),
// bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069), line or
// paragraph separator (U+2028, U+2029), and every byte that is not part of
// valid UTF-8 written as \xNN escapes of its bytes. Printable UTF-8 passes
// unchanged.
std::string terminal_safe(std::string_view s);

// `s` with every byte that is not part of valid UTF-8 replaced by U+FFFD,
// the rest unchanged: for formats that escape controls by their own rules
// but must be UTF-8 (Prometheus' exposition format).
std::string valid_utf8(std::string_view s);

}  // namespace mws
