// OnlineBackup: a consistent copy of the broker's database while it runs,
// made with SQLite's online backup API a few pages at a time between the
// broker's transactions, so that dispatch never waits for more than one step.
//
// Contract:
//  - Start refuses a path that exists (a backup never overwrites a file) or
//    whose directory is missing; a relative path is taken from the broker's
//    working directory (path() gives the absolute one).
//  - The copy is written to PATH.partial and, once complete, synced to disk
//    and linked to PATH (never replacing a file that appeared meanwhile):
//    PATH never holds half a copy. That last sync runs on a thread of its
//    own (it can take long on a big file), and Step() reports done once it
//    has ended. Destroying an unfinished backup removes the partial file
//    (waiting for that thread, if it runs).
//  - The broker's own writes during the copy reach it (SQLite updates the
//    pages already copied when the source changes through the connection
//    that does the backup), so the finished copy is the database as of its
//    last step: every task acknowledged before the backup began is in it.
//  - Step() must be called outside any transaction of the source connection
//    (it takes a read lock of its own).
//
// Not thread-safe: the broker's thread only. Must not outlive the Store
// (the source connection) it was started from.
#pragma once

#include <sqlite3.h>

#include <future>
#include <memory>
#include <string>

#include "broker/store_ops.h"
#include "common/status.h"

namespace leaseq {

class OnlineBackup {
 public:
  // Invalid: the path exists, is empty, or its directory is missing (what
  // the user asked is wrong); IoError: the copy could not be started.
  static Status Start(sqlite3* source, const std::string& path,
                      std::unique_ptr<OnlineBackup>* out);
  ~OnlineBackup();
  OnlineBackup(const OnlineBackup&) = delete;
  OnlineBackup& operator=(const OnlineBackup&) = delete;

  // Copies up to `pages` more pages. When the last is copied, finishes the
  // file (sync, link to path) and sets progress->done. A busy source is not
  // an error: the next call goes on.
  Status Step(int pages, BackupProgress* progress);

  const std::string& path() const { return path_; }

 private:
  OnlineBackup(std::string path, sqlite3* dest, sqlite3_backup* backup);
  // On the finishing thread: sync the file, name it, sync the directory.
  static Status Publish(const std::string& partial, const std::string& path);

  std::string path_;
  std::string partial_;
  sqlite3* dest_;
  sqlite3_backup* backup_;
  std::future<Status> publishing_;  // valid once every page is copied
  bool finished_ = false;           // published: path holds the copy
};

}  // namespace leaseq
