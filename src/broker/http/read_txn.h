// ReadTxn: a read transaction on the HTTP thread's read-only Store, ended
// when it goes out of scope, so that every answer is one snapshot and no
// read lock outlives its request (a long-lived reader would hold back the
// WAL checkpoint). Thread-compatible.
#pragma once

#include "broker/store.h"

namespace leaseq {

class ReadTxn {
 public:
  explicit ReadTxn(Store& s) : store_(s), status_(s.BeginRead()) {}
  ~ReadTxn() {
    if (status_.ok() && !store_.Commit().ok()) store_.Rollback();
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  const Status& status() const { return status_; }

 private:
  Store& store_;
  Status status_;
};

}  // namespace leaseq
