// leaseq-ctl: the operators' commands (pause, resume, list, retry --state,
// cancel --queue, purge, backup). Bulk changes are sent batch by batch (the
// broker does a bounded batch per request, so dispatch never waits long),
// each acknowledged after its commit.
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "tools/common/exit_codes.h"
#include "tools/common/request.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/format.h"

namespace leaseq::tools::ctl {

namespace {

constexpr const char* kTool = "leaseq-ctl";
// A backup's progress is asked for this often.
constexpr int kBackupPollMs = 100;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kTool, message.c_str());
  return code;
}

// No answer, a broker that cannot do it now, or a garbled reply: 3. A
// refusal (bad input: an unknown state, an existing backup file): 2.
int Failed(const CallResult& r) {
  return Fail(r.outcome == CallOutcome::kRefused ? exit_code::kUsage : exit_code::kBroker, r.message);
}

int64_t Int(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  return it != body.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Sends body again and again with the broker's cursor until it says there
// is no more; adds up count_field and prints "N verb".
int RunBatches(Client& client, wire::Command command, nlohmann::json body,
               const char* count_field, const char* verb) {
  int64_t total = 0;
  while (true) {
    CallResult r = Request(client, command, body);
    if (!r.ok()) {
      // What the batches before did is done (and committed): say so.
      if (total > 0) std::printf("%lld %s\n", static_cast<long long>(total), verb);
      std::fflush(stdout);
      return Failed(r);
    }
    total += Int(r.reply.body, count_field);
    auto more = r.reply.body.find(wire::field::kMore);
    if (more == r.reply.body.end() || !more->is_boolean() || !more->get<bool>()) break;
    if (r.reply.body.contains(wire::field::kCursor)) {
      body[wire::field::kCursor] = r.reply.body[wire::field::kCursor];
    }
  }
  std::printf("%lld %s\n", static_cast<long long>(total), verb);
  return exit_code::kOk;
}

std::string NewToken() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> d;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(d(rd)),
                static_cast<unsigned long long>(d(rd)));
  return buf;
}

}  // namespace

int RunPause(Client& client, const std::string& queue, bool pause) {
  CallResult r = Request(client, pause ? wire::Command::kPause : wire::Command::kResume,
                         {{wire::field::kQueue, queue}});
  if (!r.ok()) return Failed(r);
  const bool changed = r.reply.body.value(wire::field::kChanged, false);
  std::printf("queue %s %s\n", queue.c_str(),
              pause ? (changed ? "paused" : "was already paused")
                    : (changed ? "resumed" : "was not paused"));
  return exit_code::kOk;
}

int RunList(Client& client, const ListArgs& args) {
  nlohmann::json body = {{wire::field::kLimit, args.limit}};
  if (!args.state.empty()) body[wire::field::kState] = args.state;
  if (!args.queue.empty()) body[wire::field::kQueue] = args.queue;
  CallResult r = Request(client, wire::Command::kList, std::move(body));
  if (!r.ok()) return Failed(r);
  std::string text;
  Status s = args.json ? FormatListJson(r.reply.body, &text) : FormatList(r.reply.body, &text);
  if (!s.ok()) return Fail(exit_code::kBroker, s.message());
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  const auto& tasks = r.reply.body[wire::field::kTasks];
  const int64_t total = Int(r.reply.body, wire::field::kTotal);
  if (total > static_cast<int64_t>(tasks.size())) {
    std::fprintf(stderr, "%s: %zu of %lld shown (--limit)\n", kTool, tasks.size(),
                 static_cast<long long>(total));
  }
  return exit_code::kOk;
}

int RunRetryState(Client& client, const std::string& state, const std::string& queue) {
  nlohmann::json body = {{wire::field::kState, state}};
  if (!queue.empty()) body[wire::field::kQueue] = queue;
  return RunBatches(client, wire::Command::kRetry, std::move(body), wire::field::kCount, "retried");
}

int RunCancelQueue(Client& client, const std::string& queue) {
  return RunBatches(client, wire::Command::kCancel, {{wire::field::kQueue, queue}},
                    wire::field::kCount, "cancelled");
}

int RunPurge(Client& client, const std::string& state, const std::string& queue,
             int64_t older_than_ms) {
  nlohmann::json body = {{wire::field::kState, state}, {wire::field::kOlderThanMs, older_than_ms}};
  if (!queue.empty()) body[wire::field::kQueue] = queue;
  return RunBatches(client, wire::Command::kPurge, std::move(body), wire::field::kDeleted, "deleted");
}

int RunBackup(Client& client, const std::string& path) {
  // The token makes our polls find our backup (and a retried request join
  // it instead of starting another).
  const nlohmann::json body = {{wire::field::kPath, path}, {wire::field::kToken, NewToken()}};
  while (true) {
    CallResult r = Request(client, wire::Command::kBackup, body);
    if (!r.ok()) return Failed(r);
    if (r.reply.body.value(wire::field::kDone, false)) {
      std::printf("%s:%s (%lld pages)\n",
                  r.reply.body.value(wire::field::kHost, std::string("?")).c_str(),
                  r.reply.body.value(wire::field::kPath, path).c_str(),
                  static_cast<long long>(Int(r.reply.body, wire::field::kPagesTotal)));
      return exit_code::kOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kBackupPollMs));
  }
}

}  // namespace leaseq::tools::ctl
