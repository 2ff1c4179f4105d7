// leaseq::Worker (include/leaseq/worker.h): the public face of the worker.
// It collects the functions, then hands them to WorkerMain(), the command
// line that leaseq-worker itself runs.
#include "leaseq/worker.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

#include "worker/builtin_functions.h"
#include "worker/function_pool.h"
#include "worker/function_registry.h"
#include "worker/worker_main.h"

namespace leaseq {

struct Worker::Impl {
  worker::FunctionRegistry registry;
  std::vector<std::string> errors;  // of Register(), reported by Run()
};

Worker::Worker() : Worker(Options{}) {}

Worker::Worker(Options options) : impl_(std::make_unique<Impl>()) {
  if (options.builtins) {
    Status s = worker::AddBuiltinFunctions(&impl_->registry);
    if (!s.ok()) impl_->errors.push_back(s.message());  // an empty registry: cannot happen
  }
}

Worker::~Worker() = default;

FnStatus Worker::Register(std::string name, Fn fn) {
  Status s = impl_->registry.Add(name, std::move(fn));
  if (s.ok()) return FnStatus::Ok();
  impl_->errors.push_back(s.message());
  return FnStatus::Error(s.message());
}

std::vector<std::string> Worker::Functions() const { return impl_->registry.Names(); }

int Worker::Run(int argc, char** argv) {
  const char* program = argc > 0 && argv[0] != nullptr ? argv[0] : "leaseq-worker";
  if (!impl_->errors.empty()) {
    for (const auto& e : impl_->errors) fprintf(stderr, "%s: Register: %s\n", program, e.c_str());
    return 2;
  }
  auto functions = std::make_shared<const worker::FunctionRegistry>(impl_->registry);
  const int code = worker::WorkerMain(argc, argv, std::move(functions));
  if (worker::FunctionPool::CallsInProgress() > 0) {
    // Calls abandoned by the drain still run on detached threads: returning
    // from main() would destroy the globals they may use. Leave now.
    fprintf(stderr,
            "%s: %d in-process call(s) still running after the drain: exiting without them\n",
            program, worker::FunctionPool::CallsInProgress());
    fflush(nullptr);
    _exit(code);
  }
  return code;
}

}  // namespace leaseq
