// Base64 (RFC 4648, standard alphabet, with '=' padding), for the
// "input_base64" field of a task: inputs that are not UTF-8 text (any
// bytes, NUL included) travel inside the JSON of a submission unchanged.
// Decoding is strict: a length that is not a multiple of 4, a character
// outside the alphabet, misplaced padding or non-zero padding bits are
// refused, so that every input has exactly one encoding.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace leaseq {

std::string Base64Encode(std::string_view bytes);
Status Base64Decode(std::string_view text, std::string* bytes);

}  // namespace leaseq
