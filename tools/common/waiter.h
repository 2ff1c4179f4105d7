// Waiter: blocks until every given task is terminal (done, failed or
// cancelled), for `leaseq-submit --wait` and `leaseq-ctl wait`. It polls the
// broker's `states` request (body keys[]; reply counts {state: n} and
// missing[]) every poll_ms and feeds the progress bar. Keys are deduplicated
// and sent in chunks, whose counts are summed, so that a wait on a million
// tasks never builds one huge message.
//
// A broker that stops answering (a restart, say) does not end the wait at
// once: the waiter keeps polling and gives up only after max_outage_ms
// without an answer.
//
// A deadline (max_wait_ms, e.g. leaseq-submit --wait-timeout) ends the wait
// with a Timeout status once it has passed, whatever the tasks do (they keep
// running); it is checked between polls, so a broker outage can make the
// wait overrun it by up to one request's tries. Not thread-safe (uses the
// caller's Client).
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
  int64_t max_wait_ms = 0;  // 0: wait as long as it takes
};

// Ok: every task is terminal and *final holds their counts (all done when
// final->Terminal() == (*final)[kDone]). Errors: NotFound naming the keys the
// broker does not know; Unavailable after the outage limit; Invalid for a
// request the broker refused; IoError for a reply that makes no sense;
// Timeout past max_wait_ms ("gave up waiting after 30s: 12 task(s) not
// finished; they keep running"), with *final holding the last counts seen.
Status WaitForKeys(Client& client, const std::vector<std::string>& keys, ProgressBar* progress,
                   StateCounts* final, const WaitOptions& options = {});

// Prints what a wait ended with (on stderr, prefixed "tool: ") and returns
// the exit code: 0 all done, 1 some not done or unknown or the deadline
// passed, 3 broker trouble.
int ReportWait(const std::string& tool, const Status& s, const StateCounts& final);

}  // namespace leaseq::tools
