// Checks on text that names things (task keys, queues, functions) or that
// must survive the JSON of the wire unchanged (argv elements):
//  - IsValidUtf8: well-formed UTF-8 (no overlong forms, no surrogates,
//    nothing above U+10FFFF). JSON carries only Unicode text: anything else
//    would be altered on the way (replaced by U+FFFD), so it is refused
//    rather than silently changed.
//  - HasControlCharacter: a C0 control (U+0000..U+001F, NUL included), DEL
//    (U+007F) or a C1 control (U+0080..U+009F). Such a key breaks the
//    one-key-a-line output of leaseq-submit and terminals that show it.
// Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace leaseq {

bool IsValidUtf8(std::string_view s);

// For valid UTF-8 (C1 controls are looked for as their two-byte encoding).
bool HasControlCharacter(std::string_view s);

}  // namespace leaseq
