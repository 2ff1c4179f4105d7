// Client: submissions and their retries.
#include "sim_client.h"

#include <algorithm>
#include <climits>

namespace leaseq::sim {

namespace {
// leaseq-submit's wait for an answer before it sends the batch again.
constexpr int64_t kSubmitRetryMs = 3000;
}  // namespace

Client::Client(const Scenario& s, SimClock* clock, Network* net) : s_(s), clock_(clock), net_(net) {
  batches_.resize(s.batches.size());
}

void Client::Step() {
  const int64_t now = clock_->now();
  for (size_t b = 0; b < batches_.size(); ++b) {
    Batch& batch = batches_[b];
    if (batch.acked || now < s_.batches[b].at_ms) continue;
    wire::Message m;
    while (batch.conn >= 0 && net_->Receive(batch.conn, &m)) {
      if (m.command == wire::Command::kReply && m.body.value(wire::field::kId, "") == Id(b)) {
        batch.acked = true;
        for (const auto& t : s_.tasks) {
          if (t.batch == static_cast<int>(b)) acked_.insert(t.key);
        }
        net_->Close(batch.conn, 0);
        batch.conn = -1;
      } else if (m.command == wire::Command::kError) {
        batch.sent_ms = now - kSubmitRetryMs + 200;  // try again shortly
      }
    }
    if (batch.acked) continue;
    if (batch.conn < 0 || now - batch.sent_ms >= kSubmitRetryMs) Send(b);
  }
}

int64_t Client::NextEventMs() const {
  int64_t next = INT64_MAX;
  for (size_t b = 0; b < batches_.size(); ++b) {
    const Batch& batch = batches_[b];
    if (batch.acked) continue;
    if (batch.conn < 0) {
      next = std::min(next, s_.batches[b].at_ms);
    } else {
      if (net_->HasArrived(batch.conn)) return clock_->now();
      next = std::min(next, batch.sent_ms + kSubmitRetryMs);
    }
  }
  return next;
}

bool Client::all_acked() const {
  for (const auto& b : batches_) {
    if (!b.acked) return false;
  }
  return true;
}

void Client::Send(size_t b) {
  Batch& batch = batches_[b];
  if (batch.conn >= 0) net_->Close(batch.conn, 0);
  batch.conn = net_->Open(Network::kClientOwner);
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : s_.tasks) {
    if (t.batch != static_cast<int>(b)) continue;
    nlohmann::json j = {{"key", t.key},
                        {"cmd", {"sim", TaskKindName(t.kind), std::to_string(t.duration_ms), t.key}},
                        {"retries", t.retries}};
    if (t.timeout_ms > 0) j["timeout"] = t.timeout_ms;
    tasks.push_back(std::move(j));
  }
  net_->Send(batch.conn, wire::Make(wire::Command::kSubmit, {{wire::field::kId, Id(b)}, {wire::field::kTasks, std::move(tasks)}}));
  batch.sent_ms = clock_->now();
}

}  // namespace leaseq::sim
