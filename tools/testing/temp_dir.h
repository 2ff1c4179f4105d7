// TempDir: a fresh directory for one test (or one run of a tool), made with
// mkdtemp under $TMPDIR (/tmp when unset) and removed with everything in it
// when the TempDir is destroyed, unless Keep() was called (to look at what a
// failed run left behind). The one helper for this in tests and benchmarks.
// Not thread-safe: one owner.
#pragma once

#include <string>

namespace leaseq::test_support {

class TempDir {
 public:
  // Makes $TMPDIR/<prefix>-XXXXXX; throws std::runtime_error if it cannot.
  explicit TempDir(const std::string& prefix = "leaseq-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of name inside the directory.
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Leaves the directory in place on destruction.
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace leaseq::test_support
