// The worker loop against a fake broker: a ROUTER socket driven by the test,
// speaking docs/protocol.md. The loop runs in a thread; SIGTERM to the
// process (handled through the self-pipe) drains it.
#include "worker/worker_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/transport.h"
#include "tools/testing/temp_dir.h"
#include "worker/builtin_functions.h"

namespace leaseq::worker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using wire::Command;
using nlohmann::json;

class FakeBroker {
 public:
  FakeBroker() : context_(1), socket_(context_, zmq::socket_type::router) {
    transport::ApplyCommonOptions(socket_);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // Waits for the next message of this command, answering the worker with
  // heartbeats meanwhile (unless silent) and its goodbye with an ack (if
  // ack_goodbye). Other messages are kept in seen.
  bool Next(Command want, wire::Message* out, std::chrono::milliseconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (!silent && !peer_.empty() && Clock::now() >= next_heartbeat_) {
        Send(wire::Make(Command::kHeartbeat));
        next_heartbeat_ = Clock::now() + 50ms;
      }
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 20ms);
      std::string rid;
      wire::Message m;
      Status decoded;
      while (transport::Receive(socket_, true, &rid, &m, &decoded)) {
        EXPECT_TRUE(decoded.ok()) << decoded.message();
        peer_ = rid;
        seen.push_back(m);
        if (m.command == Command::kGoodbye && ack_goodbye) {
          Send(wire::Make(Command::kAck, {{"attempts", json::array()}, {"goodbye", true}}));
        }
        if (m.command == want) {
          *out = m;
          return true;
        }
      }
    }
    return false;
  }
  void Send(const wire::Message& m) { ASSERT_TRUE(transport::Send(socket_, m, peer_)); }
  void Welcome(json abandon = json::array()) {
    Send(wire::Make(Command::kWelcome,
                    {{"heartbeat_ms", 100}, {"liveness", 3}, {"abandon", abandon}}));
  }
  void Task(int64_t attempt, std::vector<std::string> cmd, std::string input = "") {
    Send(wire::Make(Command::kTask,
                    {{"attempt", attempt}, {"key", "k" + std::to_string(attempt)},
                     {"attempt_no", 1}, {"cmd", cmd}},
                    {input}));
  }
  void FnTask(int64_t attempt, const std::string& fn, std::string input = "") {
    Send(wire::Make(Command::kTask,
                    {{"attempt", attempt}, {"key", "k" + std::to_string(attempt)},
                     {"attempt_no", 1}, {"fn", fn}},
                    {input}));
  }
  size_t Count(Command c) const {
    return std::count_if(seen.begin(), seen.end(), [c](const auto& m) { return m.command == c; });
  }

  bool silent = false;
  bool ack_goodbye = true;
  std::vector<wire::Message> seen;
  std::string peer_;

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
  Clock::time_point next_heartbeat_ = Clock::now();
};

class WorkerLoopTest : public testing::Test {
 protected:
  void Start(int slots = 1, int drain_timeout_ms = 5000, int prefetch = 0) {
    WorkerOptions o;
    o.prefetch = prefetch;
    o.broker = broker_.endpoint();
    o.name = "test-worker";
    o.slots = slots;
    o.queues = {"default", "gpu"};
    o.heartbeat_ms = 100;
    o.liveness = 3;
    o.drain_timeout_ms = drain_timeout_ms;
    o.functions = functions_;
    o.session = session_;
    o.nanny = nanny_;
    thread_ = std::thread([this, o] {
      status_ = WorkerLoop(o).Run();
      returned_ = true;
    });
  }
  // SIGTERM, then the loop must say goodbye and return.
  void Stop() {
    kill(getpid(), SIGTERM);
    wire::Message m;
    EXPECT_TRUE(broker_.Next(Command::kGoodbye, &m));
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.message();
  }
  void TearDown() override {
    if (thread_.joinable()) Stop();
  }
  wire::Message Registered() {
    wire::Message m;
    EXPECT_TRUE(broker_.Next(Command::kRegister, &m));
    broker_.Welcome();
    return m;
  }

  // The built-ins and "upper".
  void WithFunctions() {
    auto r = std::make_shared<FunctionRegistry>();
    ASSERT_TRUE(AddBuiltinFunctions(r.get()).ok());
    ASSERT_TRUE(r->Add("upper", [](std::string_view in, std::string* out) {
                   for (char c : in) out->push_back(c >= 'a' && c <= 'z' ? c - 32 : c);
                   return FnStatus::Ok();
                 }).ok());
    functions_ = r;
  }
  // Abandoned calls run on after a test: let them end before the next one.
  static void WaitNoCalls() {
    const auto deadline = Clock::now() + 10s;
    while (FunctionPool::CallsInProgress() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
  }

  FakeBroker broker_;
  std::shared_ptr<const FunctionRegistry> functions_;
  std::string session_, nanny_;  // as a nanny sets them
  std::thread thread_;
  Status status_;
  std::atomic<bool> returned_{false};
};

TEST_F(WorkerLoopTest, RegistersRunsATaskAndKeepsTheResultUntilAcked) {
  Start(2);
  wire::Message reg = Registered();
  EXPECT_EQ(reg.body["name"], "test-worker");
  EXPECT_EQ(reg.body["pid"], getpid());
  EXPECT_EQ(reg.body["slots"], 2);
  EXPECT_EQ(reg.body["queues"], json({"default", "gpu"}));
  EXPECT_EQ(reg.body["fns"], json::array());
  EXPECT_EQ(reg.body["running"], json::array());
  EXPECT_FALSE(reg.body["session"].get<std::string>().empty());

  broker_.Task(7, {"sh", "-c", "cat; echo \"$LEASEQ_TASK_KEY $LEASEQ_ATTEMPT\"; echo oops >&2; exit 3"},
               "in\n");
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 7);
  EXPECT_EQ(r.body["exit_code"], 3);
  EXPECT_EQ(r.body["signal"], 0);
  EXPECT_EQ(r.body["error"], "oops\n");
  ASSERT_EQ(r.blobs.size(), 1u);
  EXPECT_EQ(r.blobs[0], "in\nk7 1\n");
  // Not acknowledged: sent again after heartbeat_ms x liveness.
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 7);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {7}}}));
  size_t results = broker_.Count(Command::kResult);
  wire::Message hb;
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &hb));
  EXPECT_EQ(broker_.Count(Command::kResult), results);  // acked: never again
}

// A finished attempt whose result is not acknowledged is still held: its
// lease must be renewed until the result gets through. (Heartbeats used to
// list only running processes: after a broker restart a result that was
// lost on the way sat unrenewed, its lease lapsed before the re-send, and a
// healthy task was blamed for a lost worker.)
TEST_F(WorkerLoopTest, HeartbeatsRenewAFinishedAttemptUntilItsResultIsAcked) {
  Start(1);
  Registered();
  broker_.Task(7, {"true"});
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  EXPECT_EQ(m.body["running"], json({7}));
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {7}}}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json::array());
}

TEST_F(WorkerLoopTest, HeartbeatListsRunningAttemptsAbortKillsAndExtraTasksAreReleased) {
  Start(1);
  Registered();
  broker_.Task(8, {"sleep", "30"});
  broker_.Task(9, {"true"});  // over the one slot
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({9}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({8}));
  broker_.Send(wire::Make(Command::kAbort, {{"attempts", {8}}}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json::array());
  EXPECT_EQ(broker_.Count(Command::kResult), 0u);  // an aborted attempt sends nothing
}

TEST_F(WorkerLoopTest, PrefetchedTaskWaitsForASlotIsReportedQueuedThenRunning) {
  Start(1, 5000, /*prefetch=*/1);
  wire::Message reg = Registered();
  EXPECT_EQ(reg.body["prefetch"], 1);
  broker_.Task(20, {"sh", "-c", "sleep 0.4; echo first"});
  broker_.Task(21, {"echo", "second"});  // prefetched: waits for the slot
  broker_.Task(22, {"true"});            // beyond slots + prefetch
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({22}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["queued"] != json({21}));
  EXPECT_EQ(m.body["running"], json({20}));
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 20);
  // 21 was reported queued: starting it is announced at once.
  ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m, 50ms));
  EXPECT_EQ(m.body["running"], json({20, 21}));  // 20: its result is not acked yet
  EXPECT_EQ(m.body["queued"], json::array());
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 21);
  EXPECT_EQ(m.blobs.at(0), "second\n");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {20, 21}}}));  // a quick drain
}

TEST_F(WorkerLoopTest, ReconnectsAfterSilenceKeepingTasksAndResults) {
  Start(2);
  wire::Message first = Registered();
  broker_.Task(10, {"sleep", "30"});
  broker_.Task(11, {"sh", "-c", "sleep 0.2; echo late"});
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));  // delivered, but never acked
  broker_.silent = true;  // the broker "dies": no heartbeats, no answers
  const std::string old_peer = broker_.peer_;
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m, 5s));
  EXPECT_NE(broker_.peer_, old_peer);  // a new socket
  EXPECT_EQ(m.body["session"], first.body["session"]);
  EXPECT_EQ(m.body["running"], json({10, 11}));  // 11: its result is not acked
  broker_.silent = false;
  broker_.Welcome(json({10}));  // attempt 10 is no longer ours: kill it
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));  // re-sent after the welcome
  EXPECT_EQ(m.body["attempt"], 11);
  EXPECT_EQ(m.blobs.at(0), "late\n");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {11}}}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json::array());
}

TEST_F(WorkerLoopTest, ReregisterSendsTheSameSession) {
  Start(1, /*drain_timeout_ms=*/100);
  wire::Message first = Registered();
  broker_.Task(12, {"sleep", "30"});
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({12}));
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  EXPECT_EQ(m.body["session"], first.body["session"]);
  EXPECT_EQ(m.body["running"], json({12}));
  broker_.Welcome();
}

// A broker restart (issue 12): the worker's messages queued from before it
// each draw a reregister, and some arrive after its register left. Those
// answered messages sent before the register: the welcome answers them all.
// A second register while welcomed made the broker release every task in
// flight to the worker (run anyway, its result refused) and re-register the
// worker once more.
TEST_F(WorkerLoopTest, ReregistersAnsweredBeforeTheWelcomeDoNotRegisterAgain) {
  Start(1);
  Registered();
  wire::Message m;
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  broker_.Send(wire::Make(Command::kReregister));  // stale: for a message sent before
  broker_.Welcome();
  broker_.Task(30, {"true"});
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 30);
  const size_t registers = broker_.Count(Command::kRegister);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  EXPECT_EQ(broker_.Count(Command::kRegister), registers);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {30}}}));  // a quick drain
}

// A register that got no welcome (lost with a broker that died after reading
// it, or a welcome lost with a pass the broker rolled back) is sent again
// every heartbeat until a welcome comes, even while the broker is heard:
// otherwise the worker, running tasks and holding results, renewed nothing
// until its link went silent, and the broker reclaimed its leases.
TEST_F(WorkerLoopTest, ARegisterWithoutAWelcomeIsSentAgainWhileTheBrokerIsHeard) {
  Start(1);
  Registered();
  broker_.Task(31, {"true"});
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));  // not acked
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));  // "lost": no welcome
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m, 1s));  // heartbeats keep coming
  EXPECT_EQ(m.body["running"], json({31}));  // the finished attempt is still held
  broker_.Welcome();
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));  // re-sent after the welcome
  EXPECT_EQ(m.body["attempt"], 31);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {31}}}));  // a quick drain
}

TEST_F(WorkerLoopTest, DrainFinishesRunningTasksThenSaysGoodbye) {
  Start(1);
  Registered();
  broker_.Task(13, {"sh", "-c", "sleep 0.3; echo finished"});
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({13}));
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));
  EXPECT_EQ(m.body["slots"], 0);
  broker_.Task(14, {"true"});  // raced with the drain: handed back at once
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({14}));
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 13);
  EXPECT_EQ(m.blobs.at(0), "finished\n");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {13}}}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_TRUE(status_.ok());
}

TEST_F(WorkerLoopTest, DrainTimeoutKillsAndReleases) {
  Start(1, /*drain_timeout_ms=*/200);
  Registered();
  broker_.Task(15, {"sleep", "30"});
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({15}));
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({15}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_EQ(broker_.Count(Command::kResult), 0u);
}

// A task that writes its pid to a file in a fresh directory, then sleeps;
// the pid once the file is there (0 if it never came).
class PidFileTask {
 public:
  PidFileTask() : file_(dir_.File("pid")) {}
  std::vector<std::string> cmd() const { return {"sh", "-c", "echo $$ > " + file_ + "; exec sleep 30"}; }
  pid_t WaitPid() const {
    const auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      FILE* f = fopen(file_.c_str(), "r");
      pid_t pid = 0;
      if (f != nullptr) {
        if (fscanf(f, "%d", &pid) != 1) pid = 0;
        fclose(f);
      }
      if (pid > 0) return pid;
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  }

 private:
  test_support::TempDir dir_{"leaseq-worker-test"};
  const std::string file_;
};

// Slurm signals every process of a preempted job: the task gets SIGTERM
// too, and is handed back, not reported as failed.
TEST_F(WorkerLoopTest, ATaskEndedBySigtermDuringTheDrainIsReleasedNotFailed) {
  Start(1);
  Registered();
  PidFileTask task;
  broker_.Task(16, task.cmd());
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({16}));
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));  // draining
  const pid_t pid = task.WaitPid();
  ASSERT_GT(pid, 0);
  kill(pid, SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({16}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_EQ(broker_.Count(Command::kResult), 0u);
}

// The same signal can reach the task first (Slurm signals the processes
// one by one): its end is held a moment, and the worker's own SIGTERM,
// arriving meanwhile, makes it a release too.
TEST_F(WorkerLoopTest, ATaskEndedBySigtermJustBeforeTheWorkerIsReleasedNotFailed) {
  Start(1);
  Registered();
  PidFileTask task;
  broker_.Task(17, task.cmd());
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({17}));
  const pid_t pid = task.WaitPid();
  ASSERT_GT(pid, 0);
  kill(pid, SIGTERM);
  // Until the worker has reaped it (a zombie still takes signal 0).
  const auto reaped_by = Clock::now() + 5s;
  while (kill(pid, 0) == 0 && Clock::now() < reaped_by) std::this_thread::sleep_for(5ms);
  ASSERT_NE(kill(pid, 0), 0) << "the worker did not reap its task";
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({17}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_EQ(broker_.Count(Command::kResult), 0u);
}

// Without a stop of the worker, a task killed by SIGTERM failed: reported
// after the hold, with the signal.
TEST_F(WorkerLoopTest, ATaskEndedBySigtermWhileRunningIsAFailedResult) {
  Start(1);
  Registered();
  PidFileTask task;
  broker_.Task(18, task.cmd());
  const pid_t pid = task.WaitPid();
  ASSERT_GT(pid, 0);
  kill(pid, SIGTERM);
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 18);
  EXPECT_EQ(m.body["signal"], SIGTERM);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {18}}}));
}

TEST_F(WorkerLoopTest, UnrunnableCommandIsAFailedResult) {
  Start();
  Registered();
  broker_.Task(16, {"leaseq-no-such-command-xyz"});
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 16);
  EXPECT_EQ(m.body["error"], "no such command: leaseq-no-such-command-xyz");
  EXPECT_EQ(m.body["permanent"], true);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {16}}}));
}

TEST_F(WorkerLoopTest, RegisterListsTheFunctionsAndAFunctionTaskGivesAResult) {
  WithFunctions();
  Start(2);
  wire::Message reg = Registered();
  EXPECT_EQ(reg.body["fns"], json({"echo", "noop", "sleep", "upper"}));
  broker_.FnTask(20, "upper", "hello");
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 20);
  EXPECT_EQ(r.body["exit_code"], 0);
  EXPECT_EQ(r.body["signal"], 0);
  EXPECT_EQ(r.body["error"], "");
  ASSERT_EQ(r.blobs.size(), 1u);
  EXPECT_EQ(r.blobs[0], "HELLO");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {20}}}));
  broker_.FnTask(21, "sleep", "soon");
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 21);
  EXPECT_EQ(r.body["exit_code"], -1);
  EXPECT_EQ(r.body["signal"], 0);
  EXPECT_EQ(r.body["error"], "sleep: input must be a number of milliseconds");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {21}}}));
}

TEST_F(WorkerLoopTest, AFunctionTheWorkerLacksIsAFailedAttempt) {
  Start();  // no functions at all
  wire::Message reg = Registered();
  EXPECT_EQ(reg.body["fns"], json::array());
  broker_.FnTask(22, "echo", "x");
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 22);
  EXPECT_EQ(r.body["error"], "this worker has no in-process function 'echo'");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {22}}}));
}

TEST_F(WorkerLoopTest, ARunningFunctionDoesNotStopHeartbeatsOrOtherTasks) {
  WithFunctions();
  Start(2);
  Registered();
  broker_.FnTask(23, "sleep", "700");
  broker_.Task(24, {"echo", "beside"});  // a command runs meanwhile
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kResult, &m, 600ms));
  EXPECT_EQ(m.body["attempt"], 24);
  EXPECT_EQ(m.blobs.at(0), "beside\n");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {24}}}));
  // Heartbeats every 100 ms while the call sleeps (and, holding 23 until
  // its result is acked, after it too): count them until that result.
  int beats = 0;
  while (broker_.Count(Command::kResult) < 2 && broker_.Next(Command::kHeartbeat, &m, 400ms) &&
         m.body["running"] == json({23})) {
    ++beats;
  }
  EXPECT_GE(beats, 2);
  if (broker_.Count(Command::kResult) < 2) {
    ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  }
  auto last = std::find_if(broker_.seen.rbegin(), broker_.seen.rend(),
                           [](const auto& s) { return s.command == Command::kResult; });
  ASSERT_NE(last, broker_.seen.rend());
  m = *last;
  EXPECT_EQ(m.body["attempt"], 23);
  EXPECT_EQ(m.body["exit_code"], 0);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {23}}}));
}

TEST_F(WorkerLoopTest, AbortAbandonsAFunctionCallAndItsResultIsNeverSent) {
  WithFunctions();
  Start(1);
  Registered();
  broker_.FnTask(25, "sleep", "300");
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({25}));
  broker_.Send(wire::Make(Command::kAbort, {{"attempts", {25}}}));
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json::array());
  // The slot is free at once, although the abandoned call still sleeps.
  broker_.FnTask(26, "echo", "next");
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 26);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {26}}}));
  WaitNoCalls();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  EXPECT_EQ(broker_.Count(Command::kResult), 1u);  // 25's never came
}

TEST_F(WorkerLoopTest, DrainWaitsForARunningFunction) {
  WithFunctions();
  Start(1);
  Registered();
  broker_.FnTask(27, "sleep", "300");
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({27}));
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));
  ASSERT_TRUE(broker_.Next(Command::kResult, &m));
  EXPECT_EQ(m.body["attempt"], 27);
  EXPECT_EQ(m.body["exit_code"], 0);
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {27}}}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_TRUE(status_.ok());
  EXPECT_EQ(broker_.Count(Command::kRelease), 0u);
}

TEST_F(WorkerLoopTest, DrainTimeoutReleasesAFunctionStillRunningAndDropsItsResult) {
  WithFunctions();
  Start(1, /*drain_timeout_ms=*/200);
  Registered();
  broker_.FnTask(28, "sleep", "1000");
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({28}));
  const auto start = Clock::now();
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({28}));
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();  // Run() returns although the call still sleeps
  EXPECT_LT(Clock::now() - start, 900ms);
  EXPECT_TRUE(status_.ok());
  EXPECT_EQ(FunctionPool::CallsInProgress(), 1);
  WaitNoCalls();
  EXPECT_EQ(FunctionPool::CallsInProgress(), 0);
  EXPECT_EQ(broker_.Count(Command::kResult), 0u);
}

TEST_F(WorkerLoopTest, GoodbyeAnsweredByReregisterIsSaidAgainAfterRegistering) {
  Start(1, /*drain_timeout_ms=*/5000);
  Registered();
  broker_.ack_goodbye = false;
  kill(getpid(), SIGTERM);
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  // As a restarted broker does: it does not know this connection.
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  EXPECT_EQ(m.body["slots"], 0);
  EXPECT_EQ(m.body["running"], json::array());
  broker_.ack_goodbye = true;
  broker_.Welcome();
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  EXPECT_TRUE(status_.ok());
}

TEST_F(WorkerLoopTest, UnacknowledgedGoodbyeLeavesAfterTheAckWait) {
  Start(1, /*drain_timeout_ms=*/100);
  Registered();
  broker_.ack_goodbye = false;
  const auto start = Clock::now();
  kill(getpid(), SIGTERM);
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kGoodbye, &m));
  thread_.join();
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 1900ms);  // waited for the ack at least 2 s
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(status_.ok());
}

TEST_F(WorkerLoopTest, ADrainingWorkerSaysNoSlotsAgainWhenItGetsATaskOrAWelcome) {
  Start(1, /*drain_timeout_ms=*/5000);
  Registered();
  broker_.Task(40, {"sleep", "30"});
  wire::Message m;
  do {
    ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &m));
  } while (m.body["running"] != json({40}));
  kill(getpid(), SIGTERM);
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));
  EXPECT_EQ(m.body["slots"], 0);
  // A broker that missed that (it restarted, or had the register from before
  // the drain) sends a task: no slots, said again, before the release.
  broker_.Task(41, {"true"});
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));
  EXPECT_EQ(m.body["slots"], 0);
  ASSERT_TRUE(broker_.Next(Command::kRelease, &m));
  EXPECT_EQ(m.body["attempts"], json({41}));
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  EXPECT_EQ(m.body["slots"], 0);
  broker_.Welcome();
  ASSERT_TRUE(broker_.Next(Command::kReady, &m));
  EXPECT_EQ(m.body["slots"], 0);
}

TEST_F(WorkerLoopTest, ANameInUseEndsRunWithTheBrokersMessageAndNoGoodbye) {
  Start();
  wire::Message m;
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  broker_.Send(wire::MakeNameRefusal(wire::kNameInUse,
                                     "name 'test-worker' is in use by pid 9 on host h"));
  // Run() returns by itself (no signal), without retrying or a goodbye.
  const auto deadline = Clock::now() + 5s;
  while (!returned_ && Clock::now() < deadline) broker_.Next(Command::kGoodbye, &m, 20ms);
  ASSERT_TRUE(returned_);
  thread_.join();
  EXPECT_EQ(status_.code(), Status::Code::kConflict);
  EXPECT_EQ(status_.message().rfind("name 'test-worker' is in use by pid 9 on host h", 0), 0u)
      << status_.message();
  EXPECT_FALSE(broker_.Next(Command::kRegister, &m, 300ms));
  EXPECT_EQ(broker_.Count(Command::kGoodbye), 0u);
}

TEST_F(WorkerLoopTest, AReservedNameIsAskedForAgainWithTheSameSession) {
  Start();
  wire::Message first, again;
  ASSERT_TRUE(broker_.Next(Command::kRegister, &first));
  broker_.Send(wire::MakeNameRefusal(wire::kNameReserved, "name 'test-worker' is in use (restart)"));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &again, 2s));
  EXPECT_EQ(again.body["session"], first.body["session"]);
  broker_.Welcome();
  ASSERT_TRUE(broker_.Next(Command::kHeartbeat, &again));
  EXPECT_FALSE(returned_);
}

TEST_F(WorkerLoopTest, TheSessionAndNannyIdANannyChoseAreSentInEveryRegister) {
  session_ = "n1.2";
  nanny_ = "n1";
  Start();
  wire::Message m = Registered();
  EXPECT_EQ(m.body["session"], "n1.2");
  EXPECT_EQ(m.body["nanny"], "n1");
  broker_.Send(wire::Make(Command::kReregister));
  ASSERT_TRUE(broker_.Next(Command::kRegister, &m));
  EXPECT_EQ(m.body["session"], "n1.2");
  EXPECT_EQ(m.body["nanny"], "n1");
  broker_.Welcome();
}

}  // namespace
}  // namespace leaseq::worker

namespace leaseq::worker {
namespace {

// A task message with a time limit, as the broker sends it.
wire::Message TimedTask(int64_t attempt, json what, int64_t timeout_ms, std::string input = "") {
  json body = {{"attempt", attempt}, {"key", "k" + std::to_string(attempt)}, {"attempt_no", 1},
               {"timeout_ms", timeout_ms}};
  body.update(what);
  return wire::Make(Command::kTask, std::move(body), {std::move(input)});
}

TEST_F(WorkerLoopTest, CommandPastItsTimeLimitGetsSigtermAndFails) {
  Start();
  Registered();
  const auto t0 = Clock::now();
  broker_.Send(TimedTask(30, {{"cmd", {"sh", "-c", "echo started >&2; exec sleep 30"}}}, 300));
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(r.body["attempt"], 30);
  EXPECT_EQ(r.body["exit_code"], -1);
  EXPECT_EQ(r.body["signal"], 0);
  EXPECT_EQ(r.body["error"],
            "timed out after 300ms (SIGTERM to its process group); stderr: started\n");
  EXPECT_FALSE(r.body.contains("permanent"));
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {30}}}));
}

TEST_F(WorkerLoopTest, CommandIgnoringSigtermIsKilledAfterTheGrace) {
  Start();
  Registered();
  const auto t0 = Clock::now();
  // The ignored SIGTERM is inherited by sleep: only SIGKILL ends them.
  broker_.Send(TimedTask(31, {{"cmd", {"sh", "-c", "trap '' TERM; sleep 30; true"}}}, 200));
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(200 + config::kTimeoutGraceMs));
  EXPECT_LT(took, 8s);
  EXPECT_EQ(r.body["error"],
            "timed out after 200ms (SIGTERM, then SIGKILL 2s later, to its process group)");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {31}}}));
}

TEST_F(WorkerLoopTest, ACommandWithinItsLimitIsUntouched) {
  Start();
  Registered();
  broker_.Send(TimedTask(32, {{"cmd", {"sh", "-c", "printf ok"}}}, 10000));
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["exit_code"], 0);
  EXPECT_EQ(r.body["error"], "");
  EXPECT_EQ(r.blobs.at(0), "ok");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {32}}}));
}

TEST_F(WorkerLoopTest, FunctionPastItsTimeLimitIsAbandonedAndItsSlotFreed) {
  WithFunctions();
  Start(1);
  Registered();
  const auto t0 = Clock::now();
  broker_.Send(TimedTask(33, {{"fn", "sleep"}}, 200, "1500"));
  wire::Message r;
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_LT(Clock::now() - t0, 1400ms);
  EXPECT_EQ(r.body["attempt"], 33);
  EXPECT_EQ(r.body["exit_code"], -1);
  EXPECT_EQ(r.body["error"],
            "timed out after 200ms (the function call was abandoned: it runs on, its output "
            "dropped)");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {33}}}));
  // The one slot is free although the call still sleeps.
  broker_.FnTask(34, "upper", "x");
  ASSERT_TRUE(broker_.Next(Command::kResult, &r));
  EXPECT_EQ(r.body["attempt"], 34);
  EXPECT_EQ(r.blobs.at(0), "X");
  broker_.Send(wire::Make(Command::kAck, {{"attempts", {34}}}));
  // The abandoned call's own end (1.5 s in) sends nothing. Next() keeps
  // heartbeating meanwhile, so the worker stays connected.
  EXPECT_FALSE(broker_.Next(Command::kResult, &r, 2s));
  WaitNoCalls();
}

}  // namespace
}  // namespace leaseq::worker
