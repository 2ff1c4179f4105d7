#include "worker/function_registry.h"

#include <utility>

namespace leaseq::worker {

namespace {

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.' || c == ':' || c == '/';
}

}  // namespace

Status FunctionRegistry::ValidateName(const std::string& name) {
  if (name.empty()) return Status::Invalid("a function name must not be empty");
  if (name.size() > kMaxNameBytes) {
    return Status::Invalid("function name '" + name.substr(0, 32) + "...' is longer than " +
                           std::to_string(kMaxNameBytes) + " characters");
  }
  for (char c : name) {
    if (!NameChar(c)) {
      return Status::Invalid("function name '" + name +
                             "' may hold only letters, digits and _ - . : /");
    }
  }
  return Status::Ok();
}

Status FunctionRegistry::Add(const std::string& name, Fn fn, bool instant) {
  Status s = ValidateName(name);
  if (!s.ok()) return s;
  if (!fn) return Status::Invalid("function '" + name + "' is empty (no callable given)");
  if (fns_.count(name) != 0) {
    return Status::Conflict("a function named '" + name + "' is registered already");
  }
  fns_.emplace(name, std::make_shared<const Fn>(std::move(fn)));
  if (instant) instant_.insert(name);
  return Status::Ok();
}

std::shared_ptr<const Fn> FunctionRegistry::Find(const std::string& name) const {
  auto it = fns_.find(name);
  return it == fns_.end() ? nullptr : it->second;
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, fn] : fns_) names.push_back(name);
  return names;
}

}  // namespace leaseq::worker
