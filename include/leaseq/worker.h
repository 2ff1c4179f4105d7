// leaseq::Worker: write a leaseq worker with in-process functions of your
// own in a few lines.
//
//   #include <leaseq/worker.h>
//   int main(int argc, char** argv) {
//     leaseq::Worker w;
//     w.Register("upper", [](std::string_view in, std::string* out) {
//       for (unsigned char c : in) out->push_back(static_cast<char>(std::toupper(c)));
//       return leaseq::FnStatus::Ok();
//     });
//     return w.Run(argc, argv);
//   }
//
// The program is then a full leaseq-worker: it takes the same flags
// (--broker, --slots, --name, --nanny, --memory-limit, --queue,
// --drain-timeout-ms, ...), runs command tasks as well, and announces its
// functions to the broker, which sends a task `{"fn": "upper", ...}` only to
// a worker that has announced "upper". See leaseq/function.h for what a
// function receives and returns, and how it must behave.
//
// Contract:
//  - Register() before Run(). A name is 1 to 128 characters out of letters,
//    digits and `_ - . : /`; registering a name twice (a built-in included)
//    is an error. Run() refuses to start (exit status 2, a message on
//    stderr) when any Register() failed, so its result may be ignored.
//  - With Options::builtins (the default) the worker also has leaseq-worker's
//    built-ins: `noop`, `echo`, `sleep`.
//  - Run() blocks until the worker is stopped (SIGTERM/SIGINT: it drains,
//    see README.md) and returns the exit status for main(): 0 after a clean
//    stop, 1 when it cannot run, 2 for bad flags (after printing why), 4
//    when the broker refused its name (another live worker holds it).
//  - --nanny works: the nanny runs this same program again as its worker
//    (so Register() calls must not depend on anything but the program).
//  - A call that is still running when the drain timeout ends cannot be
//    stopped: its task is handed back to the broker, and Run() then ends
//    the process itself with _exit(status) (stdio flushed, no static
//    destructors, no atexit handlers) instead of returning, because a
//    thread still inside a function must not see the program's globals
//    destroyed under it.
//  - A task's time limit (leaseq-submit --timeout, or the broker's
//    --default-timeout) applies to functions too: past it the call is
//    abandoned like a cancelled one (it runs to its end, its output is
//    dropped, its slot is free at once) and the attempt fails "timed out
//    after ...". A function that may run long should be able to finish.
//
// Thread-safety: a Worker is used from one thread (the one that calls
// Run()); Run() installs process-wide signal handlers, so one Worker runs
// per process. The functions themselves run on other threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "leaseq/function.h"

namespace leaseq {

class Worker {
 public:
  struct Options {
    bool builtins = true;  // also offer noop, echo and sleep
  };

  Worker();
  explicit Worker(Options options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Adds a function under a name; an error for a bad or taken name.
  FnStatus Register(std::string name, Fn fn);

  // The names this worker announces, sorted.
  std::vector<std::string> Functions() const;

  // Parses the command line (argv[0] included) and runs until stopped.
  int Run(int argc, char** argv);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leaseq
