// Broker: online backups (leaseq-ctl backup). The request starts a copy, or
// reports on the one its client started (same token); the copy advances a
// few pages between passes (StepBackup), outside any transaction, so the
// loop never stalls on it. The file is written on the broker's host.
#include <unistd.h>

#include <cstdio>

#include "broker/broker.h"

namespace leaseq {

namespace {
// Pages copied per step: 256 KiB with 4 KiB pages, about 1 ms (mean 1.1 ms
// on the 2-vCPU machine of docs/benchmarks.md, under load).
constexpr int kBackupPages = 64;

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}
}  // namespace

Status Broker::Backup(const wire::Message& m, nlohmann::json* reply) {
  std::string path, token;
  Status s = wire::GetString(m.body, "path", &path);
  if (s.ok()) s = wire::GetString(m.body, "token", &token);
  if (!s.ok()) return s;
  if (!backup_ || backup_->token != token) {
    if (BackupRunning()) {
      return Status::Unavailable("a backup to " + backup_->path +
                                 " is in progress; try again when it is done");
    }
    auto job = std::make_unique<BackupJob>();
    job->token = token;
    s = store_->StartBackup(path, &job->copy);
    // A path that exists is the user's to change (exit 2); a file that
    // cannot be made is the broker host's trouble (exit 3).
    if (!s.ok()) return s.code() == Status::Code::kInvalid ? s : Status::Unavailable(s.message());
    job->path = job->copy->path();
    backup_ = std::move(job);
    std::fprintf(stderr, "leaseq-broker: backup to %s started\n", backup_->path.c_str());
  }
  if (!backup_->error.ok()) return Status::Unavailable(backup_->error.message());
  (*reply)["path"] = backup_->path;
  (*reply)["host"] = HostName();
  (*reply)["done"] = backup_->progress.done;
  (*reply)["pages_done"] = backup_->progress.pages_done;
  (*reply)["pages_total"] = backup_->progress.pages_total;
  return Status::Ok();
}

void Broker::StepBackup() {
  if (!BackupRunning()) return;
  Status s = backup_->copy->Step(kBackupPages, &backup_->progress);
  if (!s.ok()) {
    backup_->error = s;
    backup_->copy.reset();  // removes the partial file
    std::fprintf(stderr, "leaseq-broker: %s\n", s.message().c_str());
  } else if (backup_->progress.done) {
    backup_->copy.reset();
    std::fprintf(stderr, "leaseq-broker: backup to %s done (%lld pages)\n", backup_->path.c_str(),
                 static_cast<long long>(backup_->progress.pages_total));
  }
}

}  // namespace leaseq
