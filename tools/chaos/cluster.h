// Cluster: the processes of a chaos run and what the runner reads of them. A
// broker on the work directory's database, N workers each under a nanny
// (w0..wN-1), leaseq-ctl and leaseq-submit started on their behalf, and the
// database read-only for the counts and the workers' pids. On 127.0.0.1; or,
// with --net-faults, the broker and each worker in a network namespace of its
// own (tools/testing/netns.h) so that their links can be cut and healed.
// Only ever signals processes it started, or a worker whose parent is a nanny
// it started. Not thread-safe: the runner's one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "journal.h"
#include "process.h"
#include "runner.h"
#include "tools/testing/netns.h"

namespace SQLite {
class Statement;
}  // namespace SQLite

namespace leaseq::chaos {

class Cluster {
 public:
  Cluster(const RunOptions& opt, Journal* journal);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // A port, and with --net-faults the namespaces; false (and *error) if not.
  bool Setup(const std::string& db_path, std::string* error);
  // The broker's endpoint as clients (leaseq-submit, leaseq-ctl) reach it.
  const std::string& endpoint() const { return endpoint_; }

  // ---- processes
  bool StartBroker(std::string* error);
  bool broker_up() const { return broker_up_; }
  int64_t broker_started_at() const { return broker_started_at_; }  // steady ms
  pid_t broker_pid() const;
  // Signals the broker (SIGKILL or SIGTERM) and waits for it: a fault.
  void StopBroker(int sig);
  // The final stop: every nanny, then the broker, SIGTERMed; each must exit 0.
  void Stop();
  // After an error or Ctrl-C: everything SIGKILLed.
  void Kill();
  // A broker or nanny that exited by itself is a finding; a nanny is
  // restarted at once (its index returned in *restarted), the broker is
  // not: true when it died (the caller restarts it).
  bool Watch(std::vector<size_t>* restarted);

  size_t size() const { return names_.size(); }
  const std::string& name(size_t i) const { return names_[i]; }
  void StartNanny(size_t i);
  // The pid of worker i's live process (from the workers table, and only if
  // its parent is our nanny); 0 if none.
  pid_t WorkerPid(size_t i);
  // Whether pid is (still) worker i's process, a child of our nanny.
  bool IsOurWorker(size_t i, pid_t pid) const;

  // Starts binary (a client) where the broker's clients run.
  bool StartClient(Child* c, const std::string& binary, const std::vector<std::string>& args,
                   const test_support::ChildOptions& o, std::string* why) const;
  // leaseq-ctl against the cluster; its exit status (-1 on timeout).
  int Ctl(const std::vector<std::string>& args) const;

  // ---- links (with --net-faults only)
  bool net() const { return lab_ != nullptr; }
  void Cut(size_t i);
  void Heal(size_t i);

  // ---- the database (read-only, a fresh connection each time)
  int AliveWorkers();
  void ReadCounts();
  bool counts_ok() const { return counts_ok_; }
  int64_t counts_age_from() const { return last_counts_; }  // steady ms of the last read
  void InvalidateCounts();  // the next read is awaited before counts_ok() again
  int64_t Unfinished() const;
  std::string CountsText() const;
  // A live worker process (not excused: frozen or cut off by us) that stays
  // unregistered while the broker is up is stuck; a nanny without a worker
  // process is not restarting it. Findings, once per process.
  void CheckStuckWorkers(const std::function<bool(size_t)>& excused);

 private:
  bool Launch(Child* c, const std::string& ns, const std::string& binary, const std::vector<std::string>& args,
              const test_support::ChildOptions& o, std::string* why) const;
  template <typename F>
  bool Query(const std::string& sql, F&& each_row, const std::function<void(SQLite::Statement&)>& bind = {});
  int64_t Count(const std::string& s) const;

  const RunOptions& opt_;
  Journal& journal_;
  std::unique_ptr<test_support::NetnsLab> lab_;  // first: destroyed after the processes in it
  std::string db_path_, endpoint_, bind_;
  int port_ = 0;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Child>> nannies_;
  std::unique_ptr<Child> broker_;
  bool broker_up_ = false;
  int broker_starts_ = 0;
  int64_t broker_started_at_ = 0;
  std::map<std::string, int64_t> counts_;
  bool counts_ok_ = false;
  int64_t last_counts_ = 0;
  int64_t last_stuck_check_ = 0;
  std::vector<int64_t> unregistered_ms_;
  std::vector<pid_t> stuck_pid_;
  std::set<pid_t> reported_stuck_;
  std::vector<int64_t> no_child_since_;
  std::vector<bool> reported_childless_;
};

}  // namespace leaseq::chaos
