// leaseq-submit: submits tasks to the broker and prints their keys.
//
//   leaseq-submit [--broker EP] [--key KEY] [--after KEY]... [--input TEXT |
//                 --input-file PATH] [--retries N] [--priority N] [--queue Q]
//                 [--timeout DURATION] [--delay DURATION | --at TIME]
//                 [--wait] [--wait-timeout DURATION] -- CMD [ARG...]
//   leaseq-submit [--broker EP] --fn NAME [--input TEXT] [...]   (in-process function)
//   leaseq-submit [--broker EP] --file FILE|- [--wait]           (JSON Lines)
//   any of them with --curve-secret FILE --curve-server FILE (or env
//   LEASEQ_CURVE_SECRET / LEASEQ_CURVE_SERVER) against a CURVE broker
//
// Contract (README, "leaseq-submit"; docs/semantics.md): every task is checked before anything is
// sent; all of them go in ONE `submit` request, which the broker stores
// whole or not at all; the keys are printed, one a line in submission order,
// only after the broker has committed them. Tasks without a key get a
// generated one here, so the client's retries of the request are idempotent.
// --wait then blocks until every task is terminal; exit 0 only if all are
// done; --wait-timeout stops waiting (exit 1; the tasks keep running).
// Exit codes: tools/common/exit_codes.h.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/client.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/duration.h"
#include "common/task_spec.h"
#include "tools/common/exit_codes.h"
#include "tools/common/request.h"
#include "tools/common/task_file.h"
#include "tools/common/waiter.h"

namespace {

using namespace leaseq;
using namespace leaseq::tools;

constexpr const char* kTool = "leaseq-submit";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kTool, message.c_str());
  return code;
}

struct Flags {
  std::string broker = config::BrokerEndpointFromEnv();
  int timeout_ms = config::kClientTimeoutMs;
  std::string key, input, input_file, queue, fn, file;
  std::string timeout, delay, at, wait_timeout;
  std::string curve_secret, curve_server;
  std::vector<std::string> after, cmd;
  int64_t retries = 0, priority = 0;
  bool wait = false;
};

// The flags that describe the one task given on the command line.
constexpr const char* kPerTaskFlags[] = {"--key",   "--after",      "--input", "--input-file",
                                         "--retries", "--priority", "--queue", "--timeout",
                                         "--delay", "--at"};

// The bytes of --input-file (any bytes; "-" is stdin), refusing more than
// the input limit before reading it all.
Status ReadInputFile(const std::string& path, std::string* out) {
  const int64_t limit = config::kMaxInputBytes;
  const auto too_big = [&](int64_t size) {
    return Status::Invalid("--input-file " + path + ": " + std::to_string(size) +
                           " bytes or more, more than the input limit of " +
                           std::to_string(limit) + " bytes (64 MiB); give the command a path "
                           "to read instead");
  };
  struct stat st {};
  if (path != "-" && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > limit) {
    return too_big(st.st_size);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return Status::IoError("--input-file " + path + ": " + std::strerror(errno));
    in = &file;
  }
  std::string data;
  char buf[1 << 16];
  while (in->read(buf, sizeof buf) || in->gcount() > 0) {
    data.append(buf, static_cast<size_t>(in->gcount()));
    if (static_cast<int64_t>(data.size()) > limit) return too_big(static_cast<int64_t>(data.size()));
  }
  if (in->bad()) return Status::IoError("--input-file " + path + ": read error");
  *out = std::move(data);
  return Status::Ok();
}

// The one task given by flags, checked by the same parser as a file line so
// that both forms accept and refuse exactly the same things.
Status TaskFromFlags(const Flags& f, const CLI::App& app, TaskSpec* out) {
  nlohmann::json j = nlohmann::json::object();
  if (!f.cmd.empty()) j["cmd"] = f.cmd;
  if (!f.fn.empty() || app.count("--fn") > 0) j["fn"] = f.fn;
  if (app.count("--key") > 0) j["key"] = f.key;
  if (app.count("--input") > 0) j["input"] = f.input;
  if (app.count("--input-file") > 0) {
    std::string bytes;
    Status read = ReadInputFile(f.input_file, &bytes);
    if (!read.ok()) return read;
    j["input"] = std::move(bytes);  // raw bytes: sent as base64 when not UTF-8
  }
  if (app.count("--timeout") > 0) j["timeout"] = f.timeout;
  if (app.count("--delay") > 0) j["delay"] = f.delay;
  if (app.count("--at") > 0) j["not_before"] = f.at;
  if (!f.after.empty()) j["after"] = f.after;
  if (app.count("--retries") > 0) j["retries"] = f.retries;
  if (app.count("--priority") > 0) j["priority"] = f.priority;
  if (app.count("--queue") > 0) j["queue"] = f.queue;
  return ParseTaskJson(j, out);
}

// Sends the tasks (the file's JSON Lines, moved out: the client holds them
// once); on success prints their keys. A refusal of task i is shown at its
// FILE:LINE when it came from a file.
int Submit(Client& client, TaskFile& tasks) {
  // One request is one message: a larger one would only be cut off by the
  // broker's socket (and look like a broker that does not answer).
  constexpr size_t kEnvelopeBytes = 4096;
  if (tasks.wire().size() + kEnvelopeBytes > static_cast<size_t>(config::kMaxMessageBytes)) {
    return Fail(exit_code::kUsage,
                "the submission is " + std::to_string(tasks.wire().size()) +
                    " bytes, more than one message can carry (" +
                    std::to_string(config::kMaxMessageBytes) + " bytes): split it into "
                    "several files");
  }
  // Not {std::move(...)}: an initializer list is copied from, and this blob
  // is the whole submission.
  std::vector<std::string> blobs;
  blobs.push_back(std::move(tasks.mutable_wire()));
  CallResult r = Request(client, wire::Command::kSubmit, nlohmann::json::object(), std::move(blobs));
  if (r.outcome == CallOutcome::kRefused) {
    auto index = r.reply.body.find(wire::field::kIndex);
    if (index != r.reply.body.end() && index->is_number_integer() && index->get<int64_t>() >= 0 &&
        index->get<uint64_t>() < tasks.size()) {
      const std::string at = tasks.Where(index->get<size_t>());
      if (!at.empty()) return Fail(exit_code::kUsage, at + ": " + r.message);
    }
    return Fail(exit_code::kUsage, r.message);
  }
  if (!r.ok()) return Fail(exit_code::kBroker, r.message);
  // The broker echoes the keys; ours are the same, in the same order, and
  // are what the user needs even if a broker answered with fewer.
  std::fwrite(tasks.keys_text().data(), 1, tasks.keys_text().size(), stdout);
  std::fflush(stdout);  // a pipeline sees the keys before a --wait ends
  return exit_code::kOk;
}

int Run(const Flags& f, const CLI::App& app) {
  bool per_task_flags = false;
  for (const char* flag : kPerTaskFlags) per_task_flags = per_task_flags || app.count(flag) > 0;
  const bool has_fn = app.count("--fn") > 0;
  const bool has_file = app.count("--file") > 0;
  if (has_file && (per_task_flags || has_fn || !f.cmd.empty())) {
    return Fail(exit_code::kUsage, "--file takes the tasks from the file alone: give no command, "
                                   "--fn or per-task flags with it");
  }
  if (!has_file && !has_fn && f.cmd.empty()) {
    return Fail(exit_code::kUsage, "nothing to submit: give a command after --, --fn NAME or "
                                   "--file FILE (see --help)");
  }
  TaskFile tasks;
  if (has_file) {
    Status s = ReadTaskFile(f.file, &tasks);
    if (!s.ok()) return Fail(exit_code::kUsage, s.message());
    if (tasks.empty()) {
      std::fprintf(stderr, "%s: %s: no tasks\n", kTool, tasks.name().c_str());
      return exit_code::kOk;
    }
  } else {
    TaskSpec t;
    Status s = TaskFromFlags(f, app, &t);
    if (s.ok()) s = tasks.Add(std::move(t), 0);
    if (!s.ok()) return Fail(exit_code::kUsage, s.message());
  }
  int64_t wait_timeout_ms = 0;
  if (app.count("--wait-timeout") > 0) {
    Status s = ParseDuration(f.wait_timeout, &wait_timeout_ms);
    if (s.ok() && wait_timeout_ms == 0) s = Status::Invalid("it must be longer than 0");
    if (!s.ok()) return Fail(exit_code::kUsage, "--wait-timeout: " + s.message());
  }
  if (Status s = CheckEndpoint(f.broker); !s.ok()) return Fail(exit_code::kUsage, s.message());
  curve::ClientSettings curve;
  Status loaded = curve::LoadClientFromFlagsOrEnv(f.curve_secret, f.curve_server, &curve);
  if (!loaded.ok()) return Fail(exit_code::kUsage, loaded.message());

  // The broker validates and commits every task before answering: give a
  // big submission more time than a small one (about 4 tasks per ms: a
  // broker on a loaded machine, or under a sanitizer, stores 20,000 tasks in
  // seconds, and a retry makes it check them all again; and
  // its bytes at 10 MB/s).
  const int timeout = static_cast<int>(std::max<int64_t>(
      {f.timeout_ms, static_cast<int64_t>(tasks.size() / 4), tasks.input_bytes() / 10000}));
  Client client(f.broker, timeout, -1, curve);
  const bool wait = f.wait || wait_timeout_ms > 0;
  if (int rc = Submit(client, tasks); rc != exit_code::kOk || !wait) return rc;

  std::vector<std::string> keys = tasks.Keys();
  ProgressBar progress;
  Client waiter_client(f.broker, f.timeout_ms, -1, curve);
  WaitOptions wait_options;
  wait_options.timeout_ms = wait_timeout_ms;
  return WaitAndReport(kTool, waiter_client, keys, &progress, wait_options);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"Submit tasks to a leaseq broker; prints each task's key once it is stored.",
               kTool};
  app.add_option("--broker", f.broker, "broker endpoint (env LEASEQ_BROKER)")
      ->capture_default_str();
  app.add_option("--timeout-ms", f.timeout_ms, "wait this long for each try of a request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--key", f.key, "the task's key (default: generated)");
  app.add_option("--after", f.after, "run after the task KEY is done (repeatable)")
      ->allow_extra_args(false);
  CLI::Option* input = app.add_option("--input", f.input, "bytes given to the task on stdin");
  app.add_option("--input-file", f.input_file,
                 "the task's stdin from this file, byte for byte ('-' = our stdin; at most "
                 "64 MiB)")
      ->type_name("PATH")
      ->excludes(input);
  app.add_option("--retries", f.retries, "re-runs after a failed attempt (default 0)");
  app.add_option("--priority", f.priority, "higher runs first (default 0)");
  app.add_option("--queue", f.queue, "queue name (default \"default\")");
  app.add_option("--timeout", f.timeout,
                 "time limit of each attempt, e.g. 30s, 5m, 2h, 1500ms: past it the command "
                 "gets SIGTERM (SIGKILL 2 s later) and the attempt fails \"timed out after "
                 "...\" (retries apply). Default: the broker's --default-timeout, else none")
      ->type_name("DURATION");
  CLI::Option* delay = app.add_option(
      "--delay", f.delay,
      "do not start the task before this long after it is stored (e.g. 10m)")
      ->type_name("DURATION");
  app.add_option("--at", f.at,
                 "do not start the task before this time, RFC 3339 (e.g. 2026-12-01T10:00:00Z "
                 "or 2026-12-01T11:00:00+01:00); a past time starts at once")
      ->type_name("TIME")
      ->excludes(delay);
  app.add_option("--fn", f.fn, "run the worker's in-process function NAME instead of a command");
  app.add_option("--file", f.file, "JSON Lines file of tasks, one a line ('-' = stdin)");
  app.add_flag("--wait", f.wait, "block until every task is terminal; exit 0 only if all done");
  app.add_option("--wait-timeout", f.wait_timeout,
                 "with --wait (implied): stop waiting after this long, exit 1; the tasks keep "
                 "running (not the tasks' time limit: that is --timeout)")
      ->type_name("DURATION");
  app.add_option("--curve-secret", f.curve_secret,
                 "CURVE: our key pair, a .secret file of leaseq-ctl keygen (env "
                 "LEASEQ_CURVE_SECRET)");
  app.add_option("--curve-server", f.curve_server,
                 "CURVE: the broker's public key, its .pub file (env LEASEQ_CURVE_SERVER)");
  app.add_option("cmd", f.cmd, "the command and its arguments, after --");
  app.footer("Put the command after --, e.g.  leaseq-submit --key k -- sh -c 'echo hi'\n"
             "Durations: 1500ms, 30s, 5m, 2h, 1m30s (whole numbers, a unit is required).\n"
             "Exit: 0 ok, 1 not all done (--wait, or --wait-timeout passed), 2 bad usage or\n"
             "input, 3 broker unreachable.");
  cli::AddVersionFlag(app);
  if (auto done = cli::Parse(app, argc, argv)) return *done;
  return Run(f, app);
}
