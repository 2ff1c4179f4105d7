#include "broker/worker_registry.h"

namespace leaseq {

ConnectedWorker& WorkerRegistry::Add(const WorkerRecord& record, const std::string& routing_id,
                                     int64_t now) {
  Remove(record.name);
  expected_.erase(record.name);
  ConnectedWorker& w = by_name_[record.name];
  w.record = record;
  w.routing_id = routing_id;
  w.last_heard_ms = now;
  w.last_sent_ms = now;
  w.last_heartbeat_ms = now;
  name_by_routing_id_[routing_id] = record.name;
  return w;
}

ConnectedWorker* WorkerRegistry::ByRoutingId(const std::string& routing_id) {
  auto it = name_by_routing_id_.find(routing_id);
  return it == name_by_routing_id_.end() ? nullptr : ByName(it->second);
}

ConnectedWorker* WorkerRegistry::ByName(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

void WorkerRegistry::Remove(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  name_by_routing_id_.erase(it->second.routing_id);
  by_name_.erase(it);
}

void WorkerRegistry::Expect(const std::string& name, int64_t deadline_ms) {
  expected_[name] = deadline_ms;
}

std::vector<std::string> WorkerRegistry::TakeOverdue(int64_t now) {
  std::vector<std::string> overdue;
  for (auto it = expected_.begin(); it != expected_.end();) {
    if (it->second <= now) {
      overdue.push_back(it->first);
      it = expected_.erase(it);
    } else {
      ++it;
    }
  }
  return overdue;
}

std::vector<std::string> WorkerRegistry::Silent(const rules::Settings& settings,
                                                int64_t now) const {
  std::vector<std::string> silent;
  for (const auto& [name, w] : by_name_) {
    if (w.Silent(settings, now)) silent.push_back(name);
  }
  return silent;
}

}  // namespace leaseq
