#include "broker/online_backup.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "broker/store.h"

namespace leaseq {

namespace {

std::string Errno() { return std::strerror(errno); }

Status SyncFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + Errno());
  Status s = fdatasync(fd) == 0 ? Status::Ok() : Status::IoError("cannot sync " + path + ": " + Errno());
  close(fd);
  return s;
}

}  // namespace

Status Store::StartBackup(const std::string& path, std::unique_ptr<OnlineBackup>* out) {
  return OnlineBackup::Start(db_->getHandle(), path, out);
}

OnlineBackup::OnlineBackup(std::string path, sqlite3* dest, sqlite3_backup* backup)
    : path_(std::move(path)), partial_(path_ + ".partial"), dest_(dest), backup_(backup) {}

OnlineBackup::~OnlineBackup() {
  if (backup_ != nullptr) sqlite3_backup_finish(backup_);
  if (dest_ != nullptr) sqlite3_close(dest_);
  if (publishing_.valid()) finished_ = publishing_.get().ok();
  if (!finished_) unlink(partial_.c_str());
}

Status OnlineBackup::Start(sqlite3* source, const std::string& path,
                           std::unique_ptr<OnlineBackup>* out) {
  if (path.empty()) return Status::Invalid("no backup file given");
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec) return Status::Invalid("bad backup path '" + path + "': " + ec.message());
  struct stat st;
  if (stat(absolute.c_str(), &st) == 0) {
    return Status::Invalid(absolute + " exists: a backup never overwrites a file; give a new name");
  }
  const std::string dir = std::filesystem::path(absolute).parent_path().string();
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Invalid("no directory " + dir + " on the broker's host for the backup");
  }
  const std::string partial = absolute + ".partial";
  unlink(partial.c_str());  // left by a broker that died while copying
  sqlite3* dest = nullptr;
  int rc = sqlite3_open_v2(partial.c_str(), &dest,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = dest ? sqlite3_errmsg(dest) : sqlite3_errstr(rc);
    sqlite3_close(dest);
    unlink(partial.c_str());
    return Status::IoError("cannot create " + partial + ": " + msg);
  }
  // A half-written partial file is thrown away, never rolled back: no
  // journal. The finished file is synced by Publish.
  sqlite3_exec(dest, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", source, "main");
  if (backup == nullptr) {
    std::string msg = sqlite3_errmsg(dest);
    sqlite3_close(dest);
    unlink(partial.c_str());
    return Status::IoError("cannot start the backup to " + absolute + ": " + msg);
  }
  out->reset(new OnlineBackup(absolute, dest, backup));
  return Status::Ok();
}

Status OnlineBackup::Step(int pages, BackupProgress* progress) {
  progress->done = false;
  if (finished_) {
    progress->done = true;
    return Status::Ok();
  }
  if (publishing_.valid()) {
    if (publishing_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      return Status::Ok();  // still syncing
    }
    Status s = publishing_.get();
    finished_ = s.ok();
    progress->done = s.ok();
    return s;
  }
  const int rc = sqlite3_backup_step(backup_, pages);
  progress->pages_total = sqlite3_backup_pagecount(backup_);
  progress->pages_done = progress->pages_total - sqlite3_backup_remaining(backup_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Ok();  // again next time
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    return Status::IoError("backup to " + path_ + " failed: " + sqlite3_errmsg(dest_));
  }
  if (rc == SQLITE_OK) return Status::Ok();
  // Every page is copied: close the copy here (the source connection's
  // thread), then sync and name it on a thread of its own.
  const int finish = sqlite3_backup_finish(backup_);
  backup_ = nullptr;
  if (finish != SQLITE_OK) {
    return Status::IoError("backup to " + path_ + " failed: " + sqlite3_errmsg(dest_));
  }
  if (sqlite3_close(dest_) != SQLITE_OK) return Status::IoError("cannot close " + partial_);
  dest_ = nullptr;
  publishing_ = std::async(std::launch::async, &OnlineBackup::Publish, partial_, path_);
  return Status::Ok();
}

Status OnlineBackup::Publish(const std::string& partial, const std::string& path) {
  // Not on the loop: starting writeback every few MB (sync_file_range)
  // blocked the step for ~5 ms, the final fdatasync for ~20 ms per 30 MB.
  Status s = SyncFile(partial);
  if (!s.ok()) return s;
  // link() fails rather than replace a file that appeared meanwhile.
  if (link(partial.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot name the backup " + path + ": " + Errno());
  }
  unlink(partial.c_str());
  // The new name itself must survive a crash: sync the directory.
  return SyncFile(std::filesystem::path(path).parent_path().string());
}

}  // namespace leaseq
