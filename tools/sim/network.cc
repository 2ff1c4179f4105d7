// Network: delays, order, reconnects, cuts.
#include "network.h"

#include <algorithm>
#include <climits>

namespace leaseq::sim {

namespace {
// One way across the simulated switch: most messages are quick, a few late.
int64_t Delay(chaos::Rng* rng) { return rng->Chance(0.05) ? rng->Uniform(5, 40) : rng->Uniform(0, 2); }
// ZeroMQ's reconnect interval (100 ms) and the time a connect takes.
int64_t ReconnectDelay(chaos::Rng* rng) { return rng->Uniform(1, 110); }
}  // namespace

int64_t Network::ArrivalAt(Conn& c, bool to_broker) {
  int64_t at = clock_->now() + Delay(rng_);
  auto cut = cut_until_.find(c.owner);
  if (cut != cut_until_.end() && cut->second > clock_->now()) at = std::max(at, cut->second + Delay(rng_));
  int64_t& last = to_broker ? c.last_to_broker : c.last_to_worker;
  at = std::max(at, last);
  last = at;
  return at;
}

int Network::Open(int owner) {
  const int id = next_conn_++;
  Conn& c = conns_[id];
  c.owner = owner;
  if (broker_up_) c.attach_at = clock_->now() + ReconnectDelay(rng_);
  return id;
}

void Network::Close(int conn, int linger_ms) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  c.open = false;
  c.unsent.clear();
  c.to_worker.clear();
  if (linger_ms <= 0) c.to_broker.clear();
  int64_t known = clock_->now() + 1;
  auto cut = cut_until_.find(c.owner);
  if (cut != cut_until_.end()) known = std::max(known, cut->second + 1);
  c.closed_known_at = known;
  if (!c.attached && c.to_broker.empty()) conns_.erase(it);
}

bool Network::Send(int conn, wire::Message m) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || !it->second.open) return false;
  Conn& c = it->second;
  if (!c.attached) {
    c.unsent.push_back(std::move(m));
    return true;
  }
  const int64_t at = ArrivalAt(c, true);
  c.to_broker.push_back({at, std::move(m)});
  return true;
}

bool Network::HasArrived(int conn) const {
  auto it = conns_.find(conn);
  return it != conns_.end() && !it->second.to_worker.empty() &&
         it->second.to_worker.front().at <= clock_->now();
}

bool Network::Receive(int conn, wire::Message* m) {
  if (!HasArrived(conn)) return false;
  Conn& c = conns_[conn];
  *m = std::move(c.to_worker.front().m);
  c.to_worker.pop_front();
  Note(conn, *m, false);
  return true;
}

void Network::Note(int conn, const wire::Message& m, bool to_broker) {
  ++delivered_;
  for (uint64_t v : {static_cast<uint64_t>(clock_->now()), static_cast<uint64_t>(conn),
                     static_cast<uint64_t>(m.command)}) {
    digest_ = (digest_ ^ v) * 1099511628211ULL;
  }
  if (message_trace_ != nullptr) {
    const auto it = conns_.find(conn);
    const std::string who = it == conns_.end() || it->second.owner < 0 ? "client" : "w" + std::to_string(it->second.owner);
    message_trace_->push_back("t=" + std::to_string(clock_->now()) + "ms msg c" + std::to_string(conn) + " " +
                              (to_broker ? who + " -> broker " : "broker -> " + who + " ") +
                              std::string(wire::CommandName(m.command)) + " " + wire::DumpJson(m.body));
  }
}

void Network::Attach(int id, Conn& c) {
  c.attached = true;
  ++c.attaches;
  c.attach_at = -1;
  c.routing_id = "r" + std::to_string(id) + "." + std::to_string(incarnation_);
  by_routing_id_[c.routing_id] = id;
  while (!c.unsent.empty()) {
    const int64_t at = ArrivalAt(c, true);
    c.to_broker.push_back({at, std::move(c.unsent.front())});
    c.unsent.pop_front();
  }
}

void Network::BrokerDown() {
  broker_up_ = false;
  ++incarnation_;
  inbox_.clear();
  by_routing_id_.clear();
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& c = it->second;
    c.to_broker.clear();  // on its way to, or queued in, a process that died
    c.attached = false;
    c.attach_at = -1;
    c.routing_id.clear();
    if (!c.open && c.to_worker.empty()) {
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void Network::BrokerUp() {
  broker_up_ = true;
  for (auto& [id, c] : conns_) {
    if (c.open && !c.attached) c.attach_at = clock_->now() + ReconnectDelay(rng_);
  }
}

void Network::Cut(int owner, int64_t until_ms) {
  cut_until_[owner] = until_ms;
  // What is on its way is held too.
  for (auto& [id, c] : conns_) {
    if (c.owner != owner) continue;
    for (auto* q : {&c.to_broker, &c.to_worker}) {
      for (auto& f : *q) f.at = std::max(f.at, until_ms + 1);
    }
    c.last_to_broker = std::max(c.last_to_broker, until_ms + 1);
    c.last_to_worker = std::max(c.last_to_worker, until_ms + 1);
  }
}

void Network::Deliver() {
  const int64_t now = clock_->now();
  for (auto& [id, c] : conns_) {
    if (c.open && !c.attached && c.attach_at >= 0 && c.attach_at <= now) Attach(id, c);
  }
  // Arrivals in time order; ties by connection (deterministic).
  std::vector<std::pair<int64_t, int>> due;
  for (auto& [id, c] : conns_) {
    for (const auto& f : c.to_broker) {
      if (f.at > now) break;
      due.push_back({f.at, id});
    }
  }
  std::stable_sort(due.begin(), due.end());
  for (const auto& [at, id] : due) {
    Conn& c = conns_[id];
    Note(id, c.to_broker.front().m, true);
    inbox_.push_back({c.routing_id, std::move(c.to_broker.front().m)});
    c.to_broker.pop_front();
  }
  for (auto it = conns_.begin(); it != conns_.end();) {
    const Conn& c = it->second;
    if (!c.open && c.to_broker.empty() && c.closed_known_at <= now) {
      if (!c.routing_id.empty()) by_routing_id_.erase(c.routing_id);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

int64_t Network::NextEventMs() const {
  int64_t next = INT64_MAX;
  const int64_t now = clock_->now();
  for (const auto& [id, c] : conns_) {
    if (c.open && !c.attached && c.attach_at >= 0) next = std::min(next, c.attach_at);
    if (c.attached && !c.to_broker.empty()) next = std::min(next, c.to_broker.front().at);
    if (c.open && !c.to_worker.empty()) next = std::min(next, c.to_worker.front().at);
    if (!c.open && c.closed_known_at > now) next = std::min(next, c.closed_known_at);
  }
  return next;
}

int Network::Attaches(int conn) const {
  auto it = conns_.find(conn);
  return it == conns_.end() ? 0 : it->second.attaches;
}

bool Network::Port::Receive(std::string* routing_id, wire::Message* m, Status* decoded) {
  if (n_->inbox_.empty()) return false;
  *routing_id = std::move(n_->inbox_.front().first);
  *m = std::move(n_->inbox_.front().second);
  n_->inbox_.pop_front();
  *decoded = Status::Ok();
  return true;
}

bool Network::Port::Send(const std::string& routing_id, const wire::Message& m) {
  auto id = n_->by_routing_id_.find(routing_id);
  if (id == n_->by_routing_id_.end()) return false;
  auto it = n_->conns_.find(id->second);
  if (it == n_->conns_.end()) return false;
  Conn& c = it->second;
  if (!c.open) return c.closed_known_at > n_->clock_->now();  // not known yet: lost on the way
  const int64_t at = n_->ArrivalAt(c, false);
  c.to_worker.push_back({at, wire::AsReceived(m)});  // as the worker's socket decodes it
  return true;
}

}  // namespace leaseq::sim
