#include "worker/builtin_functions.h"

#include <chrono>
#include <string>
#include <thread>

namespace leaseq::worker {

namespace {

bool Space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

FnStatus Noop(std::string_view, std::string*) { return FnStatus::Ok(); }

FnStatus Echo(std::string_view in, std::string* out) {
  out->assign(in);
  return FnStatus::Ok();
}

FnStatus Sleep(std::string_view in, std::string*) {
  int64_t ms = 0;
  Status s = ParseSleepMs(in, &ms);
  if (!s.ok()) return FnStatus::Error(s.message());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return FnStatus::Ok();
}

}  // namespace

Status ParseSleepMs(std::string_view text, int64_t* ms) {
  while (!text.empty() && Space(text.front())) text.remove_prefix(1);
  while (!text.empty() && Space(text.back())) text.remove_suffix(1);
  const Status bad = Status::Invalid("sleep: input must be a number of milliseconds");
  if (text.empty()) return bad;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad;
    v = v * 10 + (c - '0');
    if (v > kMaxSleepMs) {
      return Status::Invalid("sleep: at most " + std::to_string(kMaxSleepMs) +
                             " milliseconds (a day)");
    }
  }
  *ms = v;
  return Status::Ok();
}

Status AddBuiltinFunctions(FunctionRegistry* registry) {
  Status s = registry->Add("noop", Noop, /*instant=*/true);
  if (s.ok()) s = registry->Add("echo", Echo, /*instant=*/true);
  if (s.ok()) s = registry->Add("sleep", Sleep);
  return s;
}

}  // namespace leaseq::worker
