// Snapshot: everything the invariant checker (invariants.h) judges, as plain
// values: what was submitted, what the broker stored (tasks, attempts), what
// the tasks' commands did (executions), and what happened to the workers
// (faults, process ends) and to the machine (stalls). The chaos checker
// fills one from a work directory (reader.h); a simulator can fill one from
// its in-memory state. No I/O, no behaviour: safe to copy and share.
//
// Times are milliseconds on one clock (the broker's wall clock in a chaos
// run); base_ms is only where the messages count "t+..." from.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dag.h"

namespace leaseq::chaos {

// A row of the tasks table.
struct StoredTask {
  int64_t id = 0;
  std::string key, state, cmd, error;
  std::string input;
  int64_t suspicious = 0, deaths = 0, errors = 0, retries = 0, priority = 0, attempts_count = 0;
  int64_t failed_dep = -1;  // -1: none
  bool has_result = false;
  std::string result;
  std::vector<int64_t> deps;  // dependency task ids, in `after` order
};

// A row of the attempts table.
struct StoredAttempt {
  int64_t id = 0, task_id = 0, attempt_no = 0, started_at = 0;
  std::optional<int64_t> ended_at;
  std::string task_key, worker, outcome, error;
  std::string blame;  // of a lost attempt: suspected, death, withdrawn
  std::optional<int64_t> exit_code;
};

// What one attempt's command did (the side-effect log): its start, end or
// failure, and the value it printed.
struct Execution {
  std::string key;
  int64_t attempt_no = 0;
  int starts = 0;
  int64_t start_ms = -1, end_ms = -1, fail_ms = -1;
  bool poison = false;  // it killed its worker
  std::string value;    // printed in the end line
};

// Something done to a worker that may explain the loss of its attempts.
// Killed and drained end the worker's process (a new one, a new session,
// follows); stopped and cut do not (the same process comes back, and what
// its loss added to a task's suspicion must be taken back).
struct WorkerFault {
  enum Type { kKilled, kStopped, kCut, kDrained };  // also the order of preference
  Type type = kKilled;
  std::string worker;
  int64_t pid = 0;       // the process aimed at (0: unknown)
  int64_t from = 0, to = 0;  // to: when its effect ended at the latest
  std::string what;      // for messages: "SIGKILL t+1200ms"
};

// The end of a worker process, as its nanny saw it.
struct ProcessEnd {
  std::string worker;
  int64_t pid = 0;
  int signal = 0;        // 0: it exited
  int status = -1;       // its exit status, -1 when killed or unknown
  bool asked_to_stop = false;  // the nanny itself asked it to (the final stop)
  std::string how;       // "1234 killed by signal 9", for messages
  std::string context;   // " | line" for each of the lines the worker wrote last
};

// A leaseq-submit that was killed half-way through its batch.
struct ClientKill {
  std::string batch;
  bool keys_printed = false;  // it printed the keys before the kill
  bool resubmit = false;      // the same file was submitted again later
};

struct Snapshot {
  // A finished run (every task must be terminal, every attempt ended), or a
  // moment in one (a simulator's step): then tasks on their way are judged
  // only by what must hold at any time.
  bool at_end = true;
  // Settings of the run.
  int heartbeat_ms = 200, liveness = 3, allowed_failures = 3;
  int64_t base_ms = 0;
  // The argv each command must be stored with names this log ("" = the
  // stored command is not checked).
  std::string side_effect_log;

  // What was submitted, in submission order (keys unique), and the keys
  // clients acknowledged.
  std::vector<TaskDef> submitted;
  std::set<std::string> acked_keys;
  std::vector<ClientKill> client_kills;

  // What the broker stored at the end.
  std::vector<StoredTask> tasks;
  std::vector<StoredAttempt> attempts;  // in id order
  std::vector<std::pair<std::string, std::string>> workers;  // name, state

  // What ran, and what happened around it.
  std::vector<Execution> executions;
  std::vector<WorkerFault> worker_faults;
  std::vector<ProcessEnd> process_ends;
  std::vector<std::pair<int64_t, int64_t>> stalls;  // the machine was not scheduling us
  std::vector<std::pair<int64_t, std::string>> broker_events;  // time, "broker-kill"/"broker-start"...
};

}  // namespace leaseq::chaos
