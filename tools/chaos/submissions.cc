#include "submissions.h"

#include <signal.h>

#include <algorithm>

#include "workdir.h"

namespace leaseq::chaos {

namespace {

constexpr int64_t kSubmitRetryMs = 300;
// leaseq-submit gives up after 3 tries of 2.5 s: one that runs this long hangs.
constexpr int64_t kSubmitHangMs = 60000;

}  // namespace

struct Submissions::Submission {
  std::string batch;
  std::string file;
  bool retry_until_ok = false;  // waves and resubmissions: tried until acknowledged
  int64_t kill_at = -1;         // steady ms: the client-kill fault
  int tries = 0;
  int64_t next_try = 0;  // steady ms
  int64_t started = 0;   // steady ms, of the current try
  std::unique_ptr<Child> child;
  std::string keys_path, err_path;
  bool done = false;
  bool is_wave = false;
  bool resubmit = false;  // a client-kill whose batch is submitted again later
};

Submissions::Submissions(const RunOptions& opt, const std::string& side_effect_log, Cluster* cluster,
                         Journal* journal)
    : opt_(opt),
      log_path_(side_effect_log),
      cluster_(*cluster),
      journal_(*journal),
      manifest_(journal->dir() + "/" + files::kManifest) {
  DagOptions d;
  d.tasks = opt_.tasks;
  d.wave_size = std::max(1, opt_.wave_size);
  d.poison = opt_.poison;
  d.doomed = opt_.doomed;
  main_ = GenerateMainDag(opt_.seed, d);
  waves_ = (static_cast<int>(main_.size()) + d.wave_size - 1) / d.wave_size;
}

Submissions::~Submissions() = default;

std::string Submissions::BatchFile(const std::string& batch) const {
  return journal_.dir() + "/" + files::kSubmits + "/" + batch + ".jsonl";
}

void Submissions::WriteBatch(const std::string& batch, const std::vector<TaskDef>& tasks) {
  std::ofstream f(BatchFile(batch));
  for (const auto& t : tasks) {
    f << SubmitLine(t, log_path_) << "\n";
    manifest_ << ToJson(t).dump() << "\n";
  }
  manifest_.flush();
}

void Submissions::SubmitWave() {
  const int w = next_wave_++;
  const size_t from = static_cast<size_t>(w) * static_cast<size_t>(opt_.wave_size);
  const size_t to = std::min(main_.size(), from + static_cast<size_t>(opt_.wave_size));
  std::vector<TaskDef> tasks(main_.begin() + static_cast<long>(from), main_.begin() + static_cast<long>(to));
  const std::string batch = tasks.front().batch;
  WriteBatch(batch, tasks);
  auto s = std::make_unique<Submission>();
  s->batch = batch;
  s->file = BatchFile(batch);
  s->retry_until_ok = true;
  s->is_wave = true;
  subs_.push_back(std::move(s));
  wave_in_flight_ = true;
}

std::string Submissions::StartClientToKill(Rng& rng, int64_t* resubmit_in_ms) {
  const int index = client_batches_++;
  const int available = std::min(static_cast<int>(main_.size()), acked_waves_ * opt_.wave_size);
  std::vector<TaskDef> batch = GenerateClientBatch(rng, index, main_, available);
  const std::string name = batch.front().batch;
  WriteBatch(name, batch);
  auto s = std::make_unique<Submission>();
  s->batch = name;
  s->file = BatchFile(name);
  // Half-way: a fraction (from the seed) of how long a client usually
  // takes here, so that some die before sending, some while the broker
  // commits, some after the reply.
  s->kill_at = SteadyMs() + static_cast<int64_t>(rng.Unit() * 1.5 * client_ms_);
  StartTry(*s);
  // Half the time the user submits the same file again later: the batch
  // must then be stored exactly once (a no-op if the first one got in).
  s->resubmit = rng.Chance(0.5);
  *resubmit_in_ms = s->resubmit ? rng.Uniform(100, 1500) : 0;
  subs_.push_back(std::move(s));
  return name;
}

void Submissions::Resubmit(const std::string& batch) {
  auto r = std::make_unique<Submission>();
  r->batch = batch;
  r->file = BatchFile(batch);
  r->retry_until_ok = true;
  r->tries = 100;  // its keys files: BATCH.101.keys, ...
  subs_.push_back(std::move(r));
}

void Submissions::StartTry(Submission& s) {
  ++s.tries;
  s.started = SteadyMs();
  const std::string base = journal_.dir() + "/" + files::kSubmits + "/" + s.batch + "." + std::to_string(s.tries);
  s.keys_path = base + ".keys";
  s.err_path = base + ".err";
  s.child = std::make_unique<Child>();
  std::string why;
  if (!cluster_.StartClient(s.child.get(), opt_.bin + "/leaseq-submit", {"--broker", cluster_.endpoint(), "--file", s.file},
                            AppendTo(s.keys_path, s.err_path), &why)) {
    journal_.Finding("cannot start leaseq-submit", why);
    s.child.reset();
    s.next_try = SteadyMs() + kSubmitRetryMs;
  }
}

int Submissions::InFlight() const {
  int n = 0;
  for (const auto& s : subs_) n += s->done ? 0 : 1;
  return n;
}

int64_t Submissions::NapBefore(int64_t nap_ms) const {
  const int64_t steady = SteadyMs();
  for (const auto& sub : subs_) {  // a client to kill: wake up on time
    if (!sub->done && sub->kill_at >= 0) nap_ms = std::min(nap_ms, std::max<int64_t>(0, sub->kill_at - steady));
  }
  return nap_ms;
}

void Submissions::Poll() {
  const int64_t now = SteadyMs();
  for (auto& sp : subs_) {
    Submission& s = *sp;
    if (s.done) continue;
    if (s.child == nullptr) {
      if (now >= s.next_try) StartTry(s);
      continue;
    }
    if (s.kill_at >= 0 && now >= s.kill_at && s.child->Running()) {
      s.child->Signal(SIGKILL);
      s.child->WaitExit(std::chrono::milliseconds(2000));
      const bool printed = !ReadFile(s.keys_path).empty();
      journal_.FaultRecord({{"t", WallMs()},
                            {"kind", files::kClientKill},
                            {"target", s.batch},
                            {"pid", s.child->pid()},
                            {"keys_printed", printed},
                            {"resubmit", s.resubmit}});
      journal_.Injected();
      s.done = true;
      continue;
    }
    if (s.child->Running()) {
      if (now - s.started >= kSubmitHangMs) {
        journal_.Finding("leaseq-submit hung", s.batch + " try " + std::to_string(s.tries) + ": still running after " +
                                                   std::to_string(kSubmitHangMs / 1000) + " s; killed" +
                                                   (s.retry_until_ok ? ", trying again" : ""));
        s.child->Signal(SIGKILL);
        s.child->WaitExit(std::chrono::milliseconds(2000));
        s.child.reset();
        s.next_try = now;
        if (!s.retry_until_ok) s.done = true;
      }
      continue;
    }
    const int code = s.child->exit_code();
    if (code == 0 && !s.is_wave) {  // how long a client takes: for the next kills' timing
      client_ms_ = 0.8 * client_ms_ + 0.2 * static_cast<double>(now - s.started);
    }
    if (s.kill_at >= 0) {
      // The client finished before its kill: the fault did not happen.
      journal_.FaultRecord({{"t", WallMs()},
                            {"kind", files::kClientKill},
                            {"target", s.batch},
                            {"skipped", "finished before the kill (" + s.child->Describe() + ")"}});
      journal_.Skipped();
      if (code != 0 && code != 3) {
        journal_.Finding("submission refused",
                         s.batch + ": leaseq-submit " + s.child->Describe() + ": " + ReadFile(s.err_path));
      }
      s.done = true;
      continue;
    }
    if (code == 0) {
      s.done = true;
      if (s.is_wave) {
        ++acked_waves_;
        wave_in_flight_ = false;
        cluster_.InvalidateCounts();  // the next wave waits for counts that include this one
      }
      continue;
    }
    if (code == 3 && s.retry_until_ok) {  // the broker is away: try again
      s.child.reset();
      s.next_try = now + kSubmitRetryMs;
      continue;
    }
    journal_.Finding("submission refused", s.batch + " try " + std::to_string(s.tries) + ": leaseq-submit " +
                                               s.child->Describe() + ": " + ReadFile(s.err_path));
    s.done = true;
    if (s.is_wave) wave_in_flight_ = false;  // its tasks will be reported missing
  }
}

void Submissions::KillAll() {
  for (auto& s : subs_) {
    if (s->child != nullptr && s->child->Running()) {
      s->child->Signal(SIGKILL);
      s->child->WaitExit(std::chrono::milliseconds(2000));
    }
  }
}

}  // namespace leaseq::chaos
