#include "worker/function_pool.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>

#include "common/config.h"

namespace leaseq::worker {

namespace {

std::atomic<int> g_calls_in_progress{0};

struct Job {
  int64_t id = 0;
  std::string name;
  std::shared_ptr<const Fn> fn;
  std::string input;
  std::shared_ptr<std::atomic<bool>> abandoned;
};

FnOutcome RunJob(const Job& job) {
  FnOutcome o;
  FnStatus s;
  try {
    s = (*job.fn)(job.input, &o.output);
  } catch (const std::exception& e) {
    s = FnStatus::Error("fn '" + job.name + "' threw an exception: " + e.what());
  } catch (...) {
    s = FnStatus::Error("fn '" + job.name + "' threw an exception");
  }
  if (s.ok() && static_cast<int64_t>(o.output.size()) > config::kMaxResultBytes) {
    s = FnStatus::Error("result too large: fn '" + job.name + "' wrote " +
                        std::to_string(o.output.size()) + " bytes, more than " +
                        std::to_string(config::kMaxResultBytes));
  }
  o.ok = s.ok();
  if (!o.ok) {
    o.output.clear();
    o.error = s.message().empty() ? "fn '" + job.name + "' failed (it gave no message)"
                                  : s.message();
  }
  return o;
}

}  // namespace

struct FunctionPool::State {
  ~State() { close(event_fd); }

  int event_fd = -1;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;                                  // guarded by mu
  std::vector<std::pair<int64_t, FnOutcome>> finished;    // guarded by mu
  std::vector<bool> busy;                                 // per thread; guarded by mu
  int idle = 0;                                           // guarded by mu
  bool stop = false;                                      // guarded by mu

  void Notify() {
    const uint64_t one = 1;
    // Fails only when the counter would overflow: it is readable anyway.
    [[maybe_unused]] ssize_t n = write(event_fd, &one, sizeof one);
  }

  void Serve(size_t index) {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      busy[index] = true;
      --idle;
      FnOutcome outcome;
      int64_t id = 0;
      bool keep = false;
      {
        Job job = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        ++g_calls_in_progress;
        outcome = RunJob(job);
        id = job.id;
        keep = !job.abandoned->load();
      }  // the job (input, the function's last reference) goes before the count
      --g_calls_in_progress;
      lock.lock();
      busy[index] = false;
      ++idle;
      if (keep && !stop) {
        finished.emplace_back(id, std::move(outcome));
        Notify();
      }
    }
  }
};

Status FunctionPool::Create(std::unique_ptr<FunctionPool>* out) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return Status::IoError(std::string("cannot create the function pool's eventfd: ") +
                           strerror(errno));
  }
  auto state = std::make_shared<State>();
  state->event_fd = fd;
  out->reset(new FunctionPool(std::move(state)));
  return Status::Ok();
}

FunctionPool::FunctionPool(std::shared_ptr<State> state) : state_(std::move(state)) {}

FunctionPool::~FunctionPool() {
  std::vector<bool> busy;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
    state_->queue.clear();
    busy = state_->busy;
  }
  state_->cv.notify_all();
  for (size_t i = 0; i < threads_.size(); ++i) {
    // A busy thread cannot be stopped; it holds the state and ends after
    // its call. An idle one has nothing left to do and ends at once.
    if (busy[i]) {
      threads_[i].detach();
    } else {
      threads_[i].join();
    }
  }
}

int FunctionPool::notify_fd() const { return state_->event_fd; }

void FunctionPool::AddThread() {
  // Called with state_->mu held. The new thread inherits the mask in force
  // when it is made: block every asynchronous signal around its creation so
  // that it never takes one (no window at its start).
  sigset_t all, old;
  sigfillset(&all);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) {
    sigdelset(&all, sig);
  }
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const size_t index = state_->busy.size();
  state_->busy.push_back(false);
  ++state_->idle;
  std::shared_ptr<State> state = state_;
  threads_.emplace_back([state, index] { state->Serve(index); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

std::unique_ptr<FunctionPool::Call> FunctionPool::Start(int64_t id, const std::string& name,
                                                        std::shared_ptr<const Fn> fn,
                                                        std::string input) {
  auto abandoned = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->queue.push_back(Job{id, name, std::move(fn), std::move(input), abandoned});
    if (state_->idle < static_cast<int>(state_->queue.size())) AddThread();
  }
  state_->cv.notify_one();
  return std::make_unique<Call>(std::move(abandoned));
}

std::vector<std::pair<int64_t, FnOutcome>> FunctionPool::TakeFinished() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = read(state_->event_fd, &count, sizeof count);  // EAGAIN: none
  std::vector<std::pair<int64_t, FnOutcome>> out;
  std::lock_guard<std::mutex> lock(state_->mu);
  out.swap(state_->finished);
  return out;
}

int FunctionPool::CallsInProgress() { return g_calls_in_progress.load(); }

}  // namespace leaseq::worker
