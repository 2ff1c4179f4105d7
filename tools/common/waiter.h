// Waiter: blocks until every given task is terminal (done, failed or
// cancelled), for `leaseq-submit --wait` and `leaseq-ctl wait`. It polls the
// broker's `states` request (body keys[]; reply counts {state: n} and
// missing[]) every poll_ms and feeds the progress bar. Keys are deduplicated
// and sent in chunks, whose counts are summed, so that a wait on a million
// tasks never builds one huge message.
//
// A broker that stops answering (a restart, say) does not end the wait at
// once: the waiter keeps polling and gives up only after max_outage_ms
// without an answer. With timeout_ms > 0 (leaseq-submit --wait-timeout,
// leaseq-ctl wait --timeout) it stops waiting after that long (checked
// between polls, so a broker outage can make it overrun by up to one
// request's tries; the tasks keep running). A wait that ends with failed or
// cancelled tasks names the first ten (`key: first line of its error`) and
// says how many more. Not thread-safe (uses the caller's Client).
#pragma once

#include <string>
#include <vector>

#include "common/client.h"
#include "common/status.h"
#include "tools/common/progress.h"
#include "tools/common/state_counts.h"

namespace leaseq::tools {

struct WaitOptions {
  int poll_ms = 200;
  size_t chunk = 10000;
  int max_outage_ms = 60000;
  int64_t timeout_ms = 0;  // 0: wait for as long as it takes
};

// Failed or cancelled tasks named at the end of a wait.
inline constexpr size_t kNamedFailures = 10;

// Ok: every task is terminal and *final holds their counts (all done when
// final->Terminal() == (*final)[kDone]). Errors: NotFound naming the keys the
// broker does not know; Unavailable after the outage limit; Timeout after
// options.timeout_ms ("gave up waiting after 30s: 12 task(s) not finished;
// they keep running"; *final: the counts of the last poll); Invalid for a
// request the broker refused; IoError for a reply that makes no sense.
Status WaitForKeys(Client& client, const std::vector<std::string>& keys, ProgressBar* progress,
                   StateCounts* final, const WaitOptions& options = {});

// "key: first line of its error" for the first `max` of keys that are
// failed or cancelled, in the order of keys.
Status NameFailures(Client& client, const std::vector<std::string>& keys, size_t max,
                    size_t chunk, std::vector<std::string>* lines);

// Prints what a wait ended with (on stderr, prefixed "tool: "), with the
// failures named (from NameFailures), and returns the exit code: 0 all done,
// 1 some not done, unknown, or the timeout passed, 3 broker trouble.
int ReportWait(const std::string& tool, const Status& s, const StateCounts& final,
               const std::vector<std::string>& failures = {});

// WaitForKeys, NameFailures when some failed, ReportWait: the whole of
// `leaseq-ctl wait` and `leaseq-submit --wait` after the submission.
int WaitAndReport(const std::string& tool, Client& client, const std::vector<std::string>& keys,
                  ProgressBar* progress, const WaitOptions& options = {});

}  // namespace leaseq::tools
