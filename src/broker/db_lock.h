// DbLock: one broker per database file. Two brokers on one file would each
// take the other's leases for leftovers of a crash and run tasks twice, so
// the broker holds an exclusive lock for as long as it runs.
//
// The lock is flock(2) on a side file, "<db>.lock", which holds the
// holder's pid and host as text. flock belongs to the open file: the kernel
// drops it when the process ends in any way (SIGKILL included), so a stale
// lock never blocks a restart; the file itself may stay behind and means
// nothing unlocked. It is a separate file because SQLite uses POSIX (fcntl)
// locks on the database and its WAL, which a second lock on the same file
// from the same process would break; readers such as sqlite3 never touch
// the side file, so they are not stopped by it.
//
// Not thread-safe; one per process.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace leaseq {

class DbLock {
 public:
  ~DbLock();
  DbLock(const DbLock&) = delete;
  DbLock& operator=(const DbLock&) = delete;

  // Takes the lock of db_path, without waiting. Conflict when another live
  // process holds it (the message names the file, the holder's pid and,
  // when it is another machine's, its host); IoError when the lock file
  // cannot be opened or written.
  static Status Acquire(const std::string& db_path, std::unique_ptr<DbLock>* out);

  // The side file's name for a database path.
  static std::string LockPath(const std::string& db_path);

 private:
  explicit DbLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace leaseq
