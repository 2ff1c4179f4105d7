// FunctionRegistry: the in-process functions a worker has, by name (what its
// `register` announces in fns[], and what a `task` with `fn` runs).
//
// Contract: Add() accepts a name of 1 to kMaxNameBytes characters out of
// letters, digits and `_ - . : /`, once; anything else is an Invalid status
// naming the problem. Find() gives a shared handle to the function, which a
// running call keeps alive even if the registry goes away first.
//
// Thread-safety: none while it is being filled; once filled (the worker
// holds it as shared_ptr<const FunctionRegistry>), the const methods may be
// called from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "leaseq/function.h"

namespace leaseq::worker {

class FunctionRegistry {
 public:
  static constexpr size_t kMaxNameBytes = 128;

  // Checks a name against the rule above.
  static Status ValidateName(const std::string& name);

  // instant: the function returns at once, whatever its input (noop, echo),
  // so the worker calls it on its loop thread instead of a pool thread: no
  // thread hand-off for the calls that are nothing but overhead.
  Status Add(const std::string& name, Fn fn, bool instant = false);
  // nullptr when there is no such function.
  std::shared_ptr<const Fn> Find(const std::string& name) const;
  bool IsInstant(const std::string& name) const { return instant_.count(name) != 0; }
  bool empty() const { return fns_.empty(); }
  // Sorted.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::shared_ptr<const Fn>> fns_;
  std::set<std::string> instant_;
};

}  // namespace leaseq::worker
