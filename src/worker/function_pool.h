// FunctionPool: runs in-process function calls on threads of its own, so that
// the worker loop never blocks on a function (heartbeats, other tasks and
// signals go on while a call runs), and hands the outcomes back through an
// eventfd that the loop polls.
//
// Contract:
//  - Start() queues a call and returns its handle at once. The pool has as
//    many threads as calls were running at once (threads are made on demand
//    and kept), so a call never waits behind another; the worker's slots
//    bound the calls it starts, and only abandoned calls that are still
//    running (see below) make it grow past that.
//  - When a call ends, its outcome is queued and notify_fd() becomes
//    readable; TakeFinished() (after the poll) reads the notification and
//    returns every outcome queued since the last time.
//  - Destroying a Call handle abandons the call: a call cannot be stopped,
//    so it runs to its end on its thread, and its outcome is dropped (never
//    returned by TakeFinished). The worker does this for `abort`, a welcome's
//    `abandon[]` and a drain that timed out.
//  - A function that throws gives an error outcome with the exception's
//    message; an empty error message is replaced by one naming the function;
//    output larger than config::kMaxResultBytes is an error (as a command's).
//  - The threads block the asynchronous signals, so SIGTERM, SIGINT and
//    SIGCHLD reach the loop's thread (or any thread that does not block
//    them), never a function.
//  - ~FunctionPool(): idle threads are joined; threads still inside a call
//    cannot be, and are detached (they keep the state they use alive and
//    end when their call ends). CallsInProgress() counts such calls,
//    process-wide, so that the program can _exit instead of returning from
//    main() under them (see leaseq::Worker::Run).
//
// Thread-safety: the pool and its handles belong to one thread (the worker
// loop's); the pool threads only touch its internal, locked state.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "leaseq/function.h"

namespace leaseq::worker {

struct FnOutcome {
  bool ok = false;
  std::string output;  // the result when ok
  std::string error;   // why not, when not ok
};

class FunctionPool {
 public:
  struct State;  // shared with the threads (function_pool.cc)

  // The handle of one running call; destroying it abandons the call.
  class Call {
   public:
    explicit Call(std::shared_ptr<std::atomic<bool>> abandoned)
        : abandoned_(std::move(abandoned)) {}
    ~Call() { abandoned_->store(true); }
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

   private:
    std::shared_ptr<std::atomic<bool>> abandoned_;
  };

  // An error only when the eventfd cannot be made.
  static Status Create(std::unique_ptr<FunctionPool>* out);
  ~FunctionPool();
  FunctionPool(const FunctionPool&) = delete;
  FunctionPool& operator=(const FunctionPool&) = delete;

  // Poll for readability.
  int notify_fd() const;

  // Runs (*fn)(input) on a pool thread. id names the outcome; name is for
  // error messages.
  std::unique_ptr<Call> Start(int64_t id, const std::string& name, std::shared_ptr<const Fn> fn,
                              std::string input);

  // The outcomes of the calls that ended (and were not abandoned).
  std::vector<std::pair<int64_t, FnOutcome>> TakeFinished();

  // Threads the pool has made so far.
  size_t thread_count() const { return threads_.size(); }

  // Calls still executing, across every pool of the process (abandoned and
  // detached ones included).
  static int CallsInProgress();

 private:
  explicit FunctionPool(std::shared_ptr<State> state);
  void AddThread();

  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
};

}  // namespace leaseq::worker
