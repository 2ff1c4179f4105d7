#include "tools/common/waiter.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <thread>
#include <unordered_set>

#include "common/duration.h"
#include "tools/common/exit_codes.h"
#include "tools/common/progress.h"
#include "tools/common/request.h"

namespace leaseq::tools {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> Unique(const std::vector<std::string>& keys) {
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& k : keys) {
    if (seen.insert(k).second) out.push_back(k);
  }
  return out;
}

std::string NameKeys(const std::vector<std::string>& keys) {
  constexpr size_t kShown = 10;
  std::string s;
  for (size_t i = 0; i < keys.size() && i < kShown; ++i) s += (i ? ", " : "") + keys[i];
  if (keys.size() > kShown) s += " (and " + std::to_string(keys.size() - kShown) + " more)";
  return s;
}

// One poll over all keys. *outage is set when the broker did not answer.
// How often a wait shown on a terminal asks whether queued tasks can be
// served at all (the broker's status names queues and functions no live
// worker has): such tasks would otherwise wait in silence.
constexpr std::chrono::seconds kUnservableCheckEvery{5};

// Notes each queue (or function) that no live worker serves, once. Best
// effort: a status that fails says nothing.
void NoteUnservable(Client& client, ProgressBar* progress, std::unordered_set<std::string>* noted) {
  wire::Message reply;
  if (!client.Call(wire::Make(wire::Command::kStatus), &reply).ok()) return;
  auto unservable = reply.body.find(wire::field::kUnservable);
  if (unservable == reply.body.end() || !unservable->is_array()) return;
  for (const auto& u : *unservable) {
    if (!u.is_object()) continue;
    const std::string queue = u.value(wire::field::kQueue, std::string("?"));
    auto fn = u.find(wire::field::kFn);
    const std::string text =
        fn != u.end() && fn->is_string()
            ? "queue " + queue + ": tasks of function '" + fn->get<std::string>() +
                  "' wait, and no live worker of the queue has it"
            : "queue " + queue + ": tasks wait, and no live worker serves it";
    if (noted->insert(text).second) progress->Note(text);
  }
}

Status PollOnce(Client& client, const std::vector<std::string>& keys, size_t chunk,
                StateCounts* sum, bool* outage) {
  *outage = false;
  StateCounts total;
  std::vector<std::string> missing;
  for (size_t at = 0; at < keys.size(); at += chunk) {
    const size_t end = std::min(keys.size(), at + chunk);
    nlohmann::json body = {
        {wire::field::kKeys, std::vector<std::string>(keys.begin() + static_cast<ptrdiff_t>(at),
                                          keys.begin() + static_cast<ptrdiff_t>(end))}};
    CallResult r = Request(client, wire::Command::kStates, std::move(body));
    if (r.outcome == CallOutcome::kUnreachable || r.outcome == CallOutcome::kUnavailable) {
      *outage = true;
      return Status::Unavailable(r.message);
    }
    if (r.outcome == CallOutcome::kRefused) return Status::Invalid(r.message);
    if (!r.ok()) return Status::IoError(r.message);
    StateCounts c;
    Status s = ParseStateCounts(r.reply.body.value(wire::field::kCounts, nlohmann::json()), &c);
    if (!s.ok()) return Status::IoError("bad `states` reply: " + s.message());
    total.Add(c);
    std::vector<std::string> m;
    s = wire::GetStringList(r.reply.body, wire::field::kMissing, &m);
    if (s.ok()) missing.insert(missing.end(), m.begin(), m.end());
  }
  if (!missing.empty()) {
    return Status::NotFound("unknown task key" + std::string(missing.size() > 1 ? "s: " : ": ") +
                            NameKeys(missing));
  }
  *sum = total;
  return Status::Ok();
}

}  // namespace

Status WaitForKeys(Client& client, const std::vector<std::string>& keys, ProgressBar* progress,
                   StateCounts* final, const WaitOptions& options) {
  const std::vector<std::string> unique = Unique(keys);
  const int64_t n = static_cast<int64_t>(unique.size());
  const size_t chunk = std::max<size_t>(1, options.chunk);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      options.timeout_ms > 0 ? start + std::chrono::milliseconds(options.timeout_ms)
                             : Clock::time_point::max();
  Clock::time_point last_answer = start;
  bool seen_any = false;
  bool noted_outage = false;
  Clock::time_point next_unservable_check = Clock::now() + kUnservableCheckEvery;
  std::unordered_set<std::string> unservable_noted;
  StateCounts last;  // the counts of the last answer, for a timeout's message
  while (true) {
    if (Clock::now() >= deadline) {
      if (progress) progress->Finish();
      *final = last;
      const int64_t unfinished = seen_any ? n - last.Terminal() : n;
      // leaseq::, not progress.h's tools::FormatDuration (seconds, for the bar).
      return Status::Timeout("gave up waiting after " + leaseq::FormatDuration(options.timeout_ms) +
                             ": " + std::to_string(unfinished) +
                             " task(s) not finished; they keep running");
    }
    const Clock::time_point poll_start = Clock::now();
    StateCounts counts;
    bool outage = false;
    Status s = PollOnce(client, unique, chunk, &counts, &outage);
    if (outage) {
      const auto silent = Clock::now() - last_answer;
      if (silent >= std::chrono::milliseconds(options.max_outage_ms)) {
        if (progress) progress->Finish();
        return s;
      }
      if (!noted_outage && progress) progress->Note("the broker is not answering; still waiting");
      noted_outage = true;
      continue;  // Call already spent its timeout; poll again at once
    }
    if (!s.ok()) {
      if (progress) progress->Finish();
      return s;
    }
    last_answer = Clock::now();
    last = counts;
    seen_any = true;
    noted_outage = false;
    if (progress) progress->Update(counts, n);
    if (progress && counts[TaskState::kQueued] > 0 && Clock::now() >= next_unservable_check) {
      next_unservable_check = Clock::now() + kUnservableCheckEvery;
      NoteUnservable(client, progress, &unservable_noted);
    }
    if (counts.Terminal() >= n) {
      if (progress) progress->Finish();
      *final = counts;
      return Status::Ok();
    }
    std::this_thread::sleep_until(
        std::min(deadline, poll_start + std::chrono::milliseconds(options.poll_ms)));
  }
}

Status NameFailures(Client& client, const std::vector<std::string>& keys, size_t max,
                    size_t chunk, std::vector<std::string>* lines) {
  lines->clear();
  const std::vector<std::string> unique = Unique(keys);
  chunk = std::max<size_t>(1, chunk);
  for (size_t at = 0; at < unique.size() && lines->size() < max; at += chunk) {
    const size_t end = std::min(unique.size(), at + chunk);
    nlohmann::json body = {
        {wire::field::kKeys, std::vector<std::string>(unique.begin() + static_cast<ptrdiff_t>(at),
                                          unique.begin() + static_cast<ptrdiff_t>(end))},
        {wire::field::kFailures, max - lines->size()}};
    CallResult r = Request(client, wire::Command::kStates, std::move(body));
    if (!r.ok()) return Status::Unavailable(r.message);
    auto failures = r.reply.body.find(wire::field::kFailures);
    if (failures == r.reply.body.end() || !failures->is_array()) {
      return Status::IoError("the `states` reply names no failures (an older broker?)");
    }
    for (const auto& f : *failures) {
      if (!f.is_object() || !f.value(wire::field::kKey, nlohmann::json()).is_string()) continue;
      std::string error = f.value(wire::field::kError, nlohmann::json()).is_string()
                              ? f[wire::field::kError].get<std::string>()
                              : "";
      if (error.empty()) error = f.value(wire::field::kState, std::string("failed"));
      lines->push_back(f[wire::field::kKey].get<std::string>() + ": " + error);
      if (lines->size() >= max) break;
    }
  }
  return Status::Ok();
}

namespace {

std::string NotDoneBreakdown(const StateCounts& c) {
  std::string s;
  for (TaskState st : {TaskState::kFailed, TaskState::kCancelled, TaskState::kRunning,
                       TaskState::kQueued, TaskState::kWaiting}) {
    if (c[st] == 0) continue;
    s += (s.empty() ? "" : ", ") + std::to_string(c[st]) + " " +
         std::string(kTaskStateNames[static_cast<size_t>(st)]);
  }
  return s;
}

void PrintFailures(const StateCounts& final, const std::vector<std::string>& failures) {
  for (const auto& line : failures) std::fprintf(stderr, "  %s\n", line.c_str());
  const int64_t failed = final[TaskState::kFailed] + final[TaskState::kCancelled];
  if (!failures.empty() && failed > static_cast<int64_t>(failures.size())) {
    std::fprintf(stderr, "  ... and %lld more\n",
                 static_cast<long long>(failed - static_cast<int64_t>(failures.size())));
  }
}

}  // namespace

int ReportWait(const std::string& tool, const Status& s, const StateCounts& final,
               const std::vector<std::string>& failures) {
  if (s.code() == Status::Code::kTimeout) {
    const int64_t not_done = final.Total() - final[TaskState::kDone];
    std::fprintf(stderr, "%s: %s: %lld of %lld tasks not done (%s)\n", tool.c_str(),
                 s.message().c_str(), static_cast<long long>(not_done),
                 static_cast<long long>(final.Total()), NotDoneBreakdown(final).c_str());
    PrintFailures(final, failures);
    return exit_code::kNotDone;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", tool.c_str(), s.message().c_str());
    const bool about_tasks =
        s.code() == Status::Code::kNotFound || s.code() == Status::Code::kTimeout;
    return about_tasks ? exit_code::kNotDone : exit_code::kBroker;
  }
  const int64_t not_done = final.Total() - final[TaskState::kDone];
  if (not_done == 0) return exit_code::kOk;
  std::fprintf(stderr, "%s: %lld of %lld tasks not done (%lld failed, %lld cancelled)\n",
               tool.c_str(), static_cast<long long>(not_done),
               static_cast<long long>(final.Total()),
               static_cast<long long>(final[TaskState::kFailed]),
               static_cast<long long>(final[TaskState::kCancelled]));
  PrintFailures(final, failures);
  return exit_code::kNotDone;
}

namespace {

// What Ctrl-C (or SIGTERM) during a wait prints: only the wait ends. Kept
// in a static buffer: the handler may only write(2) and _exit(2).
char g_interrupt_notice[256];
size_t g_interrupt_notice_length = 0;

void OnInterrupt(int) {
  [[maybe_unused]] ssize_t n = write(2, g_interrupt_notice, g_interrupt_notice_length);
  _exit(exit_code::kNotDone);
}

void SayTasksKeepRunningOnInterrupt(const std::string& tool) {
  const std::string text = "\n" + tool +
                           ": interrupted: stopped waiting; the tasks keep running "
                           "(leaseq-ctl wait KEY... or leaseq-ctl status to follow them)\n";
  g_interrupt_notice_length = std::min(text.size(), sizeof g_interrupt_notice);
  std::memcpy(g_interrupt_notice, text.data(), g_interrupt_notice_length);
  struct sigaction sa = {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

int WaitAndReport(const std::string& tool, Client& client, const std::vector<std::string>& keys,
                  ProgressBar* progress, const WaitOptions& options) {
  SayTasksKeepRunningOnInterrupt(tool);
  StateCounts final;
  Status s = WaitForKeys(client, keys, progress, &final, options);
  std::vector<std::string> failures;
  const bool some_failed = final[TaskState::kFailed] + final[TaskState::kCancelled] > 0;
  if ((s.ok() || s.code() == Status::Code::kTimeout) && some_failed) {
    // Naming them is a courtesy: if the broker does not answer now, the
    // counts still say it all.
    (void)NameFailures(client, keys, kNamedFailures, options.chunk, &failures);
  }
  return ReportWait(tool, s, final, failures);
}

}  // namespace leaseq::tools
