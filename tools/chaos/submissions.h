// Submissions: the work of a chaos run fed to the cluster. The main DAG
// (dag.h) in waves with `leaseq-submit --file`, each wave tried until it is
// acknowledged; and the small batches of the client-kill fault, whose
// leaseq-submit is SIGKILLed at a set time (and maybe submitted again).
// Every task is written to the manifest before it is submitted; every try's
// printed keys to submits/BATCH.TRY.keys. Not thread-safe: the runner's one
// thread.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cluster.h"
#include "dag.h"
#include "journal.h"
#include "rng.h"
#include "runner.h"

namespace leaseq::chaos {

class Submissions {
 public:
  // Generates the main DAG from the seed; the manifest opens in the work
  // directory.
  Submissions(const RunOptions& opt, const std::string& side_effect_log, Cluster* cluster, Journal* journal);
  ~Submissions();

  int waves() const { return waves_; }
  int acked_waves() const { return acked_waves_; }
  // No wave in flight and waves left.
  bool WaveDue() const { return !wave_in_flight_ && next_wave_ < waves_; }
  void SubmitWave();

  // The client-kill fault: a new batch from rng (depending on itself and on
  // acknowledged waves), its client SIGKILLed at a random fraction of how
  // long a client usually takes; half the time the same file is submitted
  // again later (*resubmit_in_ms > 0: call Resubmit(batch) then).
  std::string StartClientToKill(Rng& rng, int64_t* resubmit_in_ms);
  void Resubmit(const std::string& batch);

  // Starts, reaps and kills clients; records the client-kill faults.
  void Poll();
  int InFlight() const;
  // How long the runner may sleep before a client must be killed.
  int64_t NapBefore(int64_t nap_ms) const;
  // The final stop: clients still running are SIGKILLed.
  void KillAll();

 private:
  struct Submission;
  void WriteBatch(const std::string& batch, const std::vector<TaskDef>& tasks);
  void StartTry(Submission& s);
  std::string BatchFile(const std::string& batch) const;

  const RunOptions& opt_;
  std::string log_path_;
  Cluster& cluster_;
  Journal& journal_;
  std::ofstream manifest_;
  std::vector<TaskDef> main_;
  std::vector<std::unique_ptr<Submission>> subs_;
  int waves_ = 0, next_wave_ = 0, acked_waves_ = 0;
  bool wave_in_flight_ = false;
  int client_batches_ = 0;
  double client_ms_ = 30;  // how long a leaseq-submit usually takes (moving average)
};

}  // namespace leaseq::chaos
