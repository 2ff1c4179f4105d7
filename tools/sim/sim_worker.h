// SimWorker: one worker name of the simulated cluster: the successive
// processes (incarnations) that run a real WorkerCore under that name, the
// nanny that reports their deaths and starts the next one, and the
// simulated task processes they run.
//
// A task's command is ["sim", kind, ms, key] (scenario.h): SimProcess ends
// as its kind says, on simulated time; a poison task kills its worker the
// moment it starts. Every start of a command is recorded as an Execution:
// the side effects the checks compare with the database.
//
// A process's death (Kill) destroys its core without a goodbye and resets
// its connection; a freeze is no Step() until the thaw; a drain is SIGTERM
// delivered to the core. Not thread-safe.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../chaos/rng.h"
#include "network.h"
#include "scenario.h"
#include "sim_clock.h"
#include "worker/link.h"
#include "worker/task_process.h"
#include "worker/worker_core.h"

namespace leaseq::sim {

// One start of a task's command.
struct Execution {
  std::string key;
  int attempt_no = 0;
  std::string worker;
  int incarnation = 0;   // index into the run's incarnations
  int64_t started_ms = 0;
  int64_t started_wall_ms = 0;  // the same moment on the wall clock (the database's times)
  int64_t ended_ms = -1;  // -1: never ended (its worker died with it)
  int exit_code = -1;
  int signal = 0;
};

// One process of a worker name, from start to death or exit.
struct Incarnation {
  std::string worker;
  std::string session;
  int64_t started_ms = 0;
  int64_t ended_ms = -1;
  bool killed = false;          // died (SIGKILL or a poison task), not a clean exit
  int64_t last_fault_ms = -1;   // the last fault that hit it (freeze, cut, drain, kill)
  std::vector<int64_t> received;  // attempt ids of the tasks it read (`task`, `tasks`)
};

// What the run records: shared by the workers, read by the checks.
struct Record {
  std::vector<Execution> executions;
  std::vector<Incarnation> incarnations;
  std::vector<std::string> trace;  // what happened, for a failing run's report
};

class SimWorker {
 public:
  SimWorker(int index, const Scenario& scenario, SimClock* clock, Network* net, chaos::Rng* rng,
            Record* record);
  ~SimWorker();

  const std::string& name() const { return name_; }
  bool alive() const { return core_ != nullptr; }

  // Starts a new process (a new session) now.
  void StartProcess();
  // Faults.
  void Kill(const std::string& why);
  void Drain();
  void Freeze(int64_t until_ms);
  void NoteFault();  // a cut of its link (the network holds it)

  // Runs what is due now: the nanny's timers, the thaw, the core's step.
  void Step();
  // When Step() next has something to do (INT64_MAX: nothing).
  int64_t NextEventMs() const;
  // A step now would do something: a message arrived, a timer is due.
  bool Due() const { return NextEventMs() <= clock_->now(); }

 private:
  class Link;
  class Starter;
  friend class Starter;
  void Exited(bool killed);
  void Trace(const std::string& line);

  int index_;
  std::string name_;
  const Scenario& scenario_;
  SimClock* clock_;
  Network* net_;
  chaos::Rng* rng_;
  Record* record_;
  std::unique_ptr<Link> link_;
  std::unique_ptr<Starter> starter_;
  std::unique_ptr<worker::WorkerCore> core_;
  int incarnation_ = -1;     // index into record_->incarnations while alive
  int generation_ = 0;       // processes started under this name
  int nanny_generation_ = 0; // nannies started (a drain ends one)
  int64_t frozen_until_ = 0;
  int64_t last_step_ms_ = -1;
  int64_t restart_at_ = -1;  // the nanny (or the operator) starts a process then
  int64_t lost_notice_at_ = -1;
  std::string lost_session_;  // the dead process the notice is about
  int64_t lost_pid_ = 0;
  bool die_now_ = false;     // a poison task started
  int64_t next_pid_;
};

}  // namespace leaseq::sim
