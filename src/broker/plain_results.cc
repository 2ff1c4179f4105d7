#include "broker/plain_results.h"

#include <cstdint>

#include "common/plain_json.h"

namespace leaseq {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : j_(s) {}

  bool Items(std::vector<AttemptResult>* out) {
    if (!j_.Literal("{\"results\":[")) return false;
    if (j_.Eat(']')) return j_.Eat('}') && j_.AtEnd();
    do {
      AttemptResult r;
      if (!Item(&r)) return false;
      out->push_back(std::move(r));
    } while (j_.Eat(','));
    return j_.Eat(']') && j_.Eat('}') && j_.AtEnd();
  }

 private:
  static constexpr unsigned kAttempt = 1, kExitCode = 2, kSignal = 4, kError = 8, kPermanent = 16;

  bool Item(AttemptResult* r) {
    unsigned seen = 0;
    if (!j_.Eat('{')) return false;
    if (j_.Eat('}')) return false;  // attempt and exit_code are required
    do {
      std::string_view name;
      if (!j_.String(&name) || !j_.Eat(':')) return false;
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
          if (!j_.Integer(&r->attempt_id)) return false;
          break;
        case kExitCode:
          if (!j_.Integer(&n)) return false;
          r->exit_code = static_cast<int>(n);  // as Broker::ParseResult casts it
          break;
        case kSignal:
          if (!j_.Integer(&n)) return false;
          r->signal = static_cast<int>(n);
          break;
        case kError:
          if (!j_.String(&text)) return false;
          r->error.assign(text);
          break;
        default:
          if (j_.Literal("true")) {
            r->permanent = true;
          } else if (!j_.Literal("false")) {
            return false;
          }
      }
    } while (j_.Eat(','));
    return j_.Eat('}') && (seen & kAttempt) != 0 && (seen & kExitCode) != 0;
  }

  PlainJson j_;
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
