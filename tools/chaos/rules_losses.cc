// Losses: every lost attempt is explained by something that happened to its
// worker: a SIGKILL (chaos, or a poison task it ran), a SIGSTOP, a cut link,
// or a drain (SIGTERM). A loss with none of these (say, after a broker
// restart) blames a task for a worker loss that did not happen. And a loss is
// blamed as a death only if its worker's process died: one that was frozen
// or cut off comes back as itself and takes its suspicion back.
#include <algorithm>
#include <map>

#include "rules.h"

namespace leaseq::chaos::rules {

namespace {

// A stall of the machine in the lease TTL before the loss.
const std::pair<int64_t, int64_t>* StallBefore(const RuleContext& c, int64_t lost_at) {
  const int64_t ttl = c.LeaseTtlMs();
  for (const auto& st : c.s.stalls) {
    if (st.first <= lost_at && st.second >= lost_at - ttl - kPhantomMarginMs) return &st;
  }
  return nullptr;
}

std::string NearbyBrokerFaults(const RuleContext& c, int64_t from, int64_t to) {
  std::string s;
  for (const auto& [t, kind] : c.s.broker_events) {
    if (t >= from - 10000 && t <= to) s += (s.empty() ? "" : ", ") + kind + " " + c.Ms(t);
  }
  return s.empty() ? "" : " [broker: " + s + "]";
}

}  // namespace

void CheckLosses(RuleContext& c) {
  std::map<std::string, std::vector<WorkerFault>> events;
  for (const auto& f : c.s.worker_faults) events[f.worker].push_back(f);
  for (const auto& [task_id, at] : c.attempts) {
    for (const auto& a : at) {
      const Execution* e = c.Executed(a.task_key, a.attempt_no);
      if (e != nullptr && e->poison) {
        events[a.worker].push_back({WorkerFault::kKilled, a.worker, 0, e->start_ms, e->start_ms,
                                    "poison " + a.task_key + " " + c.Ms(e->start_ms)});
        c.tally.poison_kills++;
      }
    }
  }
  for (auto& [w, v] : events) {
    std::sort(v.begin(), v.end(), [](const WorkerFault& x, const WorkerFault& y) { return x.from < y.from; });
  }
  const int64_t phantom_window = c.LeaseTtlMs() + kPhantomMarginMs;
  // The process that met fault f (a freeze, a partition) ended before it
  // could come back: killed or drained by us (that pid, when known), or
  // killed by a poison task, from the lease to a while after f ended (a
  // thawed worker is back at once, one cut off after its reconnect). Then
  // its worker did not come back, and a loss it held is its death.
  auto died = [&](const WorkerFault& f, const std::string& worker, int64_t s) {
    const int64_t until = f.to + (f.type == WorkerFault::kCut ? kReconnectMs : kPhantomMarginMs);
    for (const auto& ev : events[worker]) {
      if (ev.type != WorkerFault::kKilled && ev.type != WorkerFault::kDrained) continue;
      if (f.pid != 0 && ev.pid != 0) {
        if (ev.pid == f.pid) return true;
      } else if (ev.from <= until && ev.to >= s) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [task_id, at] : c.attempts) {
    for (const auto& a : at) {
      if (a.outcome != "lost" || !a.ended_at) continue;
      const int64_t s = a.started_at, end = *a.ended_at;
      const WorkerFault* inside = nullptr;
      const WorkerFault* before = nullptr;
      for (const auto& ev : events[a.worker]) {
        // A drain explains only what the draining process held: an attempt
        // leased before the SIGTERM (a draining worker takes no new work,
        // and its successor is a new process).
        const bool overlaps = ev.type == WorkerFault::kDrained
                                  ? s <= ev.from && ev.from <= end && end <= ev.to
                                  : ev.from <= end && ev.to >= s;
        if (overlaps && (inside == nullptr || ev.type < inside->type)) inside = &ev;
        // Leased after the fault began (a partition: after it healed, while
        // the worker's connection recovered), before the broker could know.
        const int64_t since = ev.type == WorkerFault::kCut ? ev.to : ev.from;
        if (!overlaps && since < s && since >= s - phantom_window) before = &ev;
      }
      const std::string what = a.task_key + " #" + std::to_string(a.attempt_no) + " on " + a.worker + " ";
      if (inside != nullptr) {
        if (inside->type == WorkerFault::kKilled) c.tally.lost_killed++;
        if (inside->type == WorkerFault::kStopped) c.tally.lost_stopped++;
        if (inside->type == WorkerFault::kCut) c.tally.lost_cut++;
        // Suspicious = lost attempts whose worker died: a frozen worker
        // comes back (the same process) and takes its suspicion back.
        // A worker cut off comes back the same way, unless its process
        // ended before it could (then it died).
        if ((inside->type == WorkerFault::kStopped || inside->type == WorkerFault::kCut) && a.blame == "death" &&
            !died(*inside, a.worker, s)) {
          c.Violation("a death blamed on a worker that did not die",
                      what + c.Ms(s) + ".." + c.Ms(end) + " (" + inside->what + "): " + Quote(a.error, 100));
        }
        if (inside->type == WorkerFault::kDrained) {
          c.tally.lost_drained++;
          c.Note("lost (not released) while its worker drained after SIGTERM",
                 what + c.Ms(s) + ".." + c.Ms(end) + " (" + inside->what + "): " + Quote(a.error, 100) +
                     NearbyBrokerFaults(c, s, end));
        }
      } else if (before != nullptr) {
        c.tally.lost_phantom++;
        c.Note(before->type == WorkerFault::kCut
                   ? "lost on a worker whose link had just healed (its connection not back yet)"
                   : "blamed for a worker that was already dead or frozen when it was leased",
               what + "leased " + c.Ms(s) + " after " + before->what);
      } else if (const auto* stall = StallBefore(c, end)) {
        c.tally.lost_stall++;
        c.Note("lost during a stall of the machine (no fault)",
               what + "lost " + c.Ms(end) + ": " + Quote(a.error, 60) + "; the runner was not scheduled " +
                   c.Ms(stall->first) + ".." + c.Ms(stall->second));
      } else {
        c.Violation("lost attempt without a worker fault",
                    what + c.Ms(s) + ".." + c.Ms(end) + ": " + Quote(a.error, 100) + NearbyBrokerFaults(c, s, end));
      }
    }
  }
}

}  // namespace leaseq::chaos::rules
