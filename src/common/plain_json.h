// PlainJson: a scanner for the plainest JSON text, for fast paths that read
// what our own programs write (task lines from leaseq-submit, `results`
// frames from leaseq-worker) without building a json tree. It reads only:
// no whitespace, strings of printable ASCII without escapes, integers of 1
// to 18 digits without a leading zero (never overflowing). Each read says
// false for anything else, and its caller then gives the text to the json
// parser, which accepts or refuses it with its message.
// Not thread-safe; the text must outlive the scanner.
#pragma once

#include <cstdint>
#include <string_view>

namespace leaseq {

class PlainJson {
 public:
  explicit PlainJson(std::string_view text) : s_(text) {}

  bool AtEnd() const { return at_ == s_.size(); }

  // The character c, consumed.
  bool Eat(char c) {
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  // The exact text `word` (a literal such as true, or several tokens).
  bool Literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // "..." of bytes 0x20-0x7e but '"' and '\\' (no escapes to undo; no
  // control characters; valid UTF-8). *v points into the text.
  bool String(std::string_view* v) {
    if (!Eat('"')) return false;
    const size_t begin = at_;
    for (; at_ < s_.size(); ++at_) {
      const auto c = static_cast<unsigned char>(s_[at_]);
      if (c == '"') {
        *v = s_.substr(begin, at_ - begin);
        ++at_;
        return true;
      }
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
    }
    return false;
  }

  // 0, or an optional '-' and 1 to 18 digits without a leading zero (not -0).
  bool Integer(int64_t* n) {
    const bool negative = Eat('-');
    const size_t begin = at_;
    int64_t v = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9' && at_ - begin < 18) {
      v = v * 10 + (s_[at_] - '0');
      ++at_;
    }
    const size_t digits = at_ - begin;
    if (digits == 0 || (s_[begin] == '0' && (digits > 1 || negative))) return false;
    if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E' ||
                            (s_[at_] >= '0' && s_[at_] <= '9'))) {
      return false;  // a fraction, an exponent, a 19th digit
    }
    *n = negative ? -v : v;
    return true;
  }

 private:
  std::string_view s_;
  size_t at_ = 0;
};

}  // namespace leaseq
