#include "tools/ctl/commands.h"

#include <cstdio>
#include <unordered_set>

#include "common/curve.h"
#include "tools/common/exit_codes.h"
#include "tools/common/request.h"
#include "tools/common/waiter.h"
#include "tools/ctl/format.h"

namespace leaseq::tools::ctl {

namespace {

constexpr const char* kTool = "leaseq-ctl";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kTool, message.c_str());
  return code;
}

// A failed request: no answer or a garbled one is the broker's trouble (3);
// a refusal is about what was asked (e.g. an unknown key), given as
// refused_code.
int Failed(const CallResult& r, int refused_code) {
  return Fail(r.outcome == CallOutcome::kRefused ? refused_code : exit_code::kBroker, r.message);
}

int Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  return exit_code::kOk;
}

}  // namespace

int RunStatus(Client& client) {
  CallResult r = Request(client, wire::Command::kStatus);
  if (!r.ok()) return Failed(r, exit_code::kBroker);
  std::string text;
  if (auto s = FormatStatus(r.reply.body, &text); !s.ok()) return Fail(exit_code::kBroker, s.message());
  return Print(text);
}

int RunWorkers(Client& client) {
  CallResult r = Request(client, wire::Command::kWorkers);
  if (!r.ok()) return Failed(r, exit_code::kBroker);
  std::string text;
  if (auto s = FormatWorkers(r.reply.body, &text); !s.ok()) {
    return Fail(exit_code::kBroker, s.message());
  }
  return Print(text);
}

int RunShow(Client& client, const std::string& key) {
  CallResult r = Request(client, wire::Command::kShow, {{wire::field::kKey, key}});
  if (!r.ok()) return Failed(r, exit_code::kNotDone);
  return Print(FormatShow(r.reply.body));
}

int RunResult(Client& client, const std::string& key) {
  CallResult r = Request(client, wire::Command::kFetch, {{wire::field::kKey, key}});
  if (!r.ok()) return Failed(r, exit_code::kNotDone);
  auto state = r.reply.body.find(wire::field::kState);
  if (state == r.reply.body.end() || !state->is_string()) {
    return Fail(exit_code::kBroker, "the `fetch` reply has no 'state'");
  }
  if (*state != "done") {
    return Fail(exit_code::kNotDone,
                "task " + key + " is " + state->get<std::string>() + ", not done");
  }
  // A done task with no blob printed nothing.
  if (!r.reply.blobs.empty()) {
    const std::string& bytes = r.reply.blobs[0];
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size()) {
      return Fail(exit_code::kOutput, "cannot write the result to stdout");
    }
  }
  if (std::fflush(stdout) != 0) return Fail(exit_code::kOutput, "cannot write the result to stdout");
  return exit_code::kOk;
}

int RunWait(Client& client, const std::vector<std::string>& keys, int64_t timeout_ms) {
  ProgressBar progress;
  WaitOptions options;
  options.timeout_ms = timeout_ms;
  return WaitAndReport(kTool, client, keys, &progress, options);
}

int RunChange(Client& client, wire::Command command, const std::vector<std::string>& keys) {
  CallResult r = Request(client, command, {{wire::field::kKeys, keys}});
  std::vector<std::string> changed;
  if (r.outcome == CallOutcome::kRefused) {
    // A refusal (e.g. an unknown key) may still list what did change.
    if (wire::GetStringList(r.reply.body, wire::field::kChanged, &changed).ok()) {
      for (const auto& k : changed) std::printf("%s\n", k.c_str());
    }
    return Failed(r, exit_code::kNotDone);
  }
  if (!r.ok()) return Failed(r, exit_code::kNotDone);
  if (auto s = wire::GetStringList(r.reply.body, wire::field::kChanged, &changed); !s.ok()) {
    return Fail(exit_code::kBroker, "bad reply: " + s.message());
  }
  // changed[] may hold more than was asked: a retry also puts back the
  // tasks that failed only because of the ones named.
  std::string text;
  for (const auto& k : changed) text += k + "\n";
  Print(text);
  std::fflush(stdout);
  const std::unordered_set<std::string> done(changed.begin(), changed.end());
  const bool cancel = command == wire::Command::kCancel;
  int rc = exit_code::kOk;
  for (const auto& k : keys) {
    if (done.count(k) > 0) continue;
    Fail(0, k + (cancel ? " was not cancelled (it is done, already cancelled or unknown)"
                        : " was not retried (only failed or cancelled tasks can be)"));
    rc = exit_code::kNotDone;
  }
  return rc;
}

int RunKeygen(const std::string& path) {
  curve::KeyPair keys;
  Status s = curve::Generate(&keys);
  if (!s.ok()) return Fail(exit_code::kUsage, s.message());
  s = curve::WriteKeyFiles(path, keys);
  // A PATH that cannot be written (or that would overwrite a key) is bad
  // input: the message names the file and why.
  if (!s.ok()) return Fail(exit_code::kUsage, s.message());
  return Print("secret key: " + path + ".secret (keep it; mode 0600)\npublic key: " + path +
               ".pub " + keys.public_key + "\n");
}

}  // namespace leaseq::tools::ctl
