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
  // Its register said `idle_heartbeats: true` (and the broker's idle factor
  // is above 1): while it holds nothing it heartbeats at the idle rate.
  bool idle_heartbeats = false;
  // It heartbeats at the idle rate now (rules::Hearing): its last heartbeat
  // listed nothing and nothing was leased to it since. The broker's
  // heartbeats to it go at that rate too.
  bool idle = false;
  // steady: when a lease ended its idle rate (rules::Hearing::busy_since_ms).
  int64_t busy_since_ms = 0;
  // steady: when a `ready` took its prefetch from above 0 to 0 while it
  // takes work (0: not since): a release right after is a hand-back
  // (prefetch_hold.h).
  int64_t prefetch_dropped_ms = 0;

  // What the silence rules need to know of it.
  rules::Hearing hearing() const { return {last_heard_ms, busy_since_ms, idle && !unreachable}; }
  // Its heartbeat said whether it holds anything (a register counts as
  // busy: the worker heartbeats at the normal rate until it says otherwise).
  void HeardHolding(bool holds) { idle = idle_heartbeats && !holds; }
  // Attempts were leased to it at now (steady).
  void Leased(int64_t now) {
    if (idle) busy_since_ms = now;
    idle = false;
  }
  // Whether it is silent at now (rules::WorkerSilent). A worker that never
  // announced the idle rate is never idle and never made busy by a lease
  // (busy_since_ms 0): judged by last_heard_ms alone, as always.
  bool Silent(const rules::Settings& settings, int64_t now) const {
    return rules::WorkerSilent(settings, hearing(), now);
  }
  // The interval of the broker's heartbeats to it.
  int64_t HeartbeatIntervalMs(const rules::Settings& settings) const {
    return idle ? rules::BrokerIdleHeartbeatMs(settings) : settings.heartbeat_ms;
  }
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

  // Names of connected workers silent at now (ConnectedWorker::Silent).
  std::vector<std::string> Silent(const rules::Settings& settings, int64_t now) const;

  std::map<std::string, ConnectedWorker>& all() { return by_name_; }
  const std::map<std::string, ConnectedWorker>& all() const { return by_name_; }

 private:
  std::map<std::string, ConnectedWorker> by_name_;
  std::map<std::string, std::string> name_by_routing_id_;
  std::map<std::string, int64_t> expected_;
};

}  // namespace leaseq
