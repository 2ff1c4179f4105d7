#include "broker/plain_results.h"

#include <cstdint>

namespace leaseq {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool Items(std::vector<AttemptResult>* out) {
    if (!Literal("{\"results\":[")) return false;
    if (Eat(']')) return Eat('}') && at_ == s_.size();
    do {
      AttemptResult r;
      if (!Item(&r)) return false;
      out->push_back(std::move(r));
    } while (Eat(','));
    return Eat(']') && Eat('}') && at_ == s_.size();
  }

 private:
  static constexpr unsigned kAttempt = 1, kExitCode = 2, kSignal = 4, kError = 8, kPermanent = 16;

  bool Item(AttemptResult* r) {
    unsigned seen = 0;
    if (!Eat('{')) return false;
    if (Eat('}')) return false;  // attempt and exit_code are required
    do {
      std::string_view name;
      if (!String(&name) || !Eat(':')) return false;
      const unsigned bit = name == "attempt"     ? kAttempt
                           : name == "exit_code" ? kExitCode
                           : name == "signal"    ? kSignal
                           : name == "error"     ? kError
                           : name == "permanent" ? kPermanent
                                                 : 0;
      if (bit == 0 || (seen & bit) != 0) return false;
      seen |= bit;
      int64_t n = 0;
      std::string_view text;
      switch (bit) {
        case kAttempt:
          if (!Integer(&r->attempt_id)) return false;
          break;
        case kExitCode:
          if (!Integer(&n)) return false;
          r->exit_code = static_cast<int>(n);  // as Broker::ParseResult casts it
          break;
        case kSignal:
          if (!Integer(&n)) return false;
          r->signal = static_cast<int>(n);
          break;
        case kError:
          if (!String(&text)) return false;
          r->error.assign(text);
          break;
        default:
          if (Literal("true")) {
            r->permanent = true;
          } else if (!Literal("false")) {
            return false;
          }
      }
    } while (Eat(','));
    return Eat('}') && (seen & kAttempt) != 0 && (seen & kExitCode) != 0;
  }

  bool Eat(char c) {
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool Literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // "..." of bytes 0x20-0x7e but '"' and '\\': nothing to unescape.
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

  // -?[0-9]{1,18} as JSON writes integers (no leading zeros, no "-0").
  bool Integer(int64_t* v) {
    const bool negative = Eat('-');
    const size_t begin = at_;
    int64_t n = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') {
      n = n * 10 + (s_[at_] - '0');
      ++at_;
    }
    const size_t digits = at_ - begin;
    if (digits == 0 || digits > 18) return false;
    if (digits > 1 && s_[begin] == '0') return false;
    if (negative && n == 0) return false;
    if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E')) return false;
    *v = negative ? -n : n;
    return true;
  }

  std::string_view s_;
  size_t at_ = 0;
};

}  // namespace

bool ReadPlainResults(std::string_view body, std::vector<std::string>* blobs,
                      std::vector<AttemptResult>* out) {
  out->clear();
  if (!Reader(body).Items(out)) return false;
  if (blobs->size() > out->size()) return false;  // the json path refuses the frame
  for (size_t i = 0; i < blobs->size(); ++i) (*out)[i].stdout_bytes = std::move((*blobs)[i]);
  return true;
}

}  // namespace leaseq
