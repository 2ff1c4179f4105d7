// WorkerRegistry: the broker's in-memory view of connected workers: which
// ZeroMQ routing id is which worker, what it offers, and when it was last
// heard from (steady clock). Its size follows the number of workers, never
// the number of tasks. The durable record of workers is the store's.
// Not thread-safe (owned by the broker loop).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "broker/lease_rules.h"
#include "broker/store.h"

namespace leaseq {

struct ConnectedWorker {
  WorkerRecord record;
  std::string routing_id;
  int64_t last_heard_ms = 0;  // steady
  int64_t last_sent_ms = 0;   // steady
  // A message to it could not be sent (its connection is gone: the process
  // died; or its queue is full). Dispatch skips it until it is heard again:
  // otherwise the tasks leased to it are released and leased straight back
  // to it on every loop pass until it is declared lost.
  bool unreachable = false;
  int64_t last_heartbeat_ms = 0;  // steady: its last heartbeat (the renewals)
  // steady: when workers.last_seen_at was last written for it. A heartbeat
  // that renews nothing writes it only every kLastSeenWriteMs (broker.cc):
  // a thousand idle workers then cost the database nothing.
  int64_t last_seen_written_ms = 0;
  // Its register said `batch: true`: the tasks of a pass go in one `tasks` frame.
  bool batch = false;
};

class WorkerRegistry {
 public:
  // Adds (or replaces, by name) a worker on a connection.
  ConnectedWorker& Add(const WorkerRecord& record, const std::string& routing_id, int64_t now);
  ConnectedWorker* ByRoutingId(const std::string& routing_id);
  ConnectedWorker* ByName(const std::string& name);
  void Remove(const std::string& name);

  // Workers named in the database as alive when the broker started, not yet
  // reconnected: each must register before its deadline (steady ms).
  void Expect(const std::string& name, int64_t deadline_ms);
  // Names of expected workers past their deadline (removed from the list).
  std::vector<std::string> TakeOverdue(int64_t now);
  // The name is expected (see Expect) and not yet overdue: its holder may
  // be reconnecting, so the name is reserved for it (name_claim.h).
  bool IsExpected(const std::string& name) const { return expected_.count(name) != 0; }

  // Names of connected workers silent at now (rules::WorkerSilent).
  std::vector<std::string> Silent(const rules::Settings& settings, int64_t now) const;

  std::map<std::string, ConnectedWorker>& all() { return by_name_; }
  const std::map<std::string, ConnectedWorker>& all() const { return by_name_; }

 private:
  std::map<std::string, ConnectedWorker> by_name_;
  std::map<std::string, std::string> name_by_routing_id_;
  std::map<std::string, int64_t> expected_;
};

}  // namespace leaseq
