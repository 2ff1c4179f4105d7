// Worker names (issue 8, bug 2): a name held by a live worker is refused to
// another process, which exits non-zero naming the holder; the holder keeps
// its leases. A nanny's restarted child, and a worker reconnecting after a
// broker restart, keep their name. Default names do not repeat.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <zmq.hpp>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

std::string ThisHost() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

class WorkerNames : public ::testing::Test {
 protected:
  std::string WorkerField(const std::string& name, const std::string& column) {
    return Query(cluster.db(), "SELECT " + column + " FROM workers WHERE name = '" + name + "'");
  }
  bool WaitAlive(const std::string& name, std::chrono::milliseconds t = 10s) {
    return WaitFor([&] { return WorkerField(name, "state") == "alive"; }, t);
  }
  bool WaitState(const std::string& key, const std::string& state, std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'") == state; }, t);
  }
  // "name 'same' is in use by pid N on host H", as the refused side prints it.
  static std::string InUse(const std::string& name, pid_t pid) {
    return "name '" + name + "' is in use by pid " + std::to_string(pid) + " on host " + ThisHost();
  }
  // The task ran once, on its first worker, and nobody was blamed.
  void ExpectRanOnceWithoutBlame(const std::string& key) {
    EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'"), "done");
    EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = '" + key + "'"), 0);
    EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = '" + key + "'"), 1);
  }
  Cluster cluster{kFastBroker};
};

TEST_F(WorkerNames, ASecondWorkerUnderALiveNameIsRefusedAndTheFirstKeepsItsTask) {
  cluster.StartBroker();
  Process& a = cluster.StartWorker({"--name", "same"});
  ASSERT_TRUE(WaitAlive("same")) << a.Stderr();
  ASSERT_EQ(cluster.Submit({"--key", "slow", "--", "sleep", "3"}).exit_code, 0);
  ASSERT_TRUE(WaitState("slow", "running"));

  Process& b = cluster.StartWorker({"--name", "same"});
  ASSERT_TRUE(b.WaitExit(5s)) << "the second worker kept running:\n" << b.Stderr() << cluster.broker().Stderr();
  EXPECT_EQ(b.exit_code(), 4);  // kExitNameInUse: not a crash, not bad flags
  EXPECT_NE(b.Stderr().find(InUse("same", a.pid())), std::string::npos) << b.Stderr();

  ASSERT_TRUE(WaitState("slow", "done")) << cluster.broker().Stderr();
  ExpectRanOnceWithoutBlame("slow");
  EXPECT_TRUE(a.running());
  EXPECT_EQ(WorkerField("same", "pid"), std::to_string(a.pid()));
}

TEST_F(WorkerNames, ANannyWhoseWorkerIsRefusedExitsNonZeroInsteadOfRestartingIt) {
  cluster.StartBroker();
  Process& a = cluster.StartWorker({"--name", "same"});
  ASSERT_TRUE(WaitAlive("same")) << a.Stderr();
  Process& nanny = cluster.StartWorker({"--nanny", "--name", "same"});
  ASSERT_TRUE(nanny.WaitExit(10s)) << "the nanny kept running:\n" << nanny.Stderr();
  EXPECT_EQ(nanny.exit_code(), 4);
  EXPECT_NE(nanny.Stderr().find(InUse("same", a.pid())), std::string::npos) << nanny.Stderr();
  // Refused once, not restarted into the same refusal.
  EXPECT_EQ(nanny.Stderr().find("restarting in"), std::string::npos) << nanny.Stderr();
  EXPECT_TRUE(a.running());
  EXPECT_EQ(WorkerField("same", "pid"), std::to_string(a.pid()));
}

TEST_F(WorkerNames, ANannysWorkerKilledWithSigkillComesBackUnderTheSameName) {
  cluster.StartBroker();
  Process& nanny = cluster.StartWorker({"--nanny", "--name", "nn"});
  ASSERT_TRUE(WaitAlive("nn")) << nanny.Stderr();
  for (int round = 0; round < 3; ++round) {
    const std::string pid = WorkerField("nn", "pid");
    ASSERT_EQ(kill(std::stoi(pid), SIGKILL), 0);
    ASSERT_TRUE(WaitFor([&] { return WorkerField("nn", "state") == "alive" && WorkerField("nn", "pid") != pid; }, 10s))
        << nanny.Stderr() << cluster.broker().Stderr();
  }
  EXPECT_TRUE(nanny.running()) << nanny.Stderr();
  EXPECT_EQ(nanny.Stderr().find("in use"), std::string::npos) << nanny.Stderr();
  ASSERT_EQ(cluster.Submit({"--key", "after", "--wait", "--", "true"}).exit_code, 0);
}

// The hard case of a nanny restart: its `lost` cannot reach the broker
// (stopped), so when the new worker registers the broker still counts the
// killed one as live (heard within heartbeat_ms x liveness, the default
// 1 s x 3). Both are the nanny's (`nanny`, sessions "<nanny>.<n>"): the new
// worker takes the name at once instead of being refused.
TEST(WorkerNamesNanny, ARestartIsNotRefusedBeforeTheBrokerNoticesTheKilledWorker) {
  Cluster cluster;  // default heartbeats: the killed worker stays "live" 3 s
  cluster.StartBroker();
  Process& nanny = cluster.StartWorker({"--nanny", "--name", "nn"});
  auto field = [&](const std::string& column) {
    return Query(cluster.db(), "SELECT " + column + " FROM workers WHERE name = 'nn'");
  };
  ASSERT_TRUE(WaitFor([&] { return field("state") == "alive"; }, 10s)) << nanny.Stderr();
  const std::string pid = field("pid");
  cluster.broker().Signal(SIGSTOP);
  ASSERT_EQ(kill(std::stoi(pid), SIGKILL), 0);
  // The nanny gave up telling the broker, and started the next worker.
  auto starts = [&] {
    std::string err = nanny.Stderr();
    int n = 0;
    for (size_t at = 0; (at = err.find("started worker pid", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  const bool restarted = WaitFor([&] {
    return nanny.Stderr().find("could not tell the broker that worker pid " + pid) != std::string::npos &&
           starts() == 2;
  }, 10s);
  cluster.broker().Signal(SIGCONT);
  ASSERT_TRUE(restarted) << nanny.Stderr();
  ASSERT_TRUE(WaitFor([&] { return field("state") == "alive" && field("pid") != pid; }, 10s))
      << nanny.Stderr() << cluster.broker().Stderr();
  EXPECT_TRUE(nanny.running()) << nanny.Stderr();
  EXPECT_EQ(nanny.Stderr().find("in use"), std::string::npos) << nanny.Stderr();
  EXPECT_EQ(cluster.broker().Stderr().find("refused"), std::string::npos) << cluster.broker().Stderr();
}

// The nanny's evidence, on the wire: a register from the nanny that started
// the holder (`nanny` N, sessions "N.<n>") takes the name at once, even from
// a holder the broker still hears (the nanny's `lost` may not have
// arrived); any other session is refused with code name_in_use.
TEST(WorkerNamesWire, TheHoldersNannyTakesTheNameAtOnceOthersAreRefused) {
  Cluster cluster;  // default heartbeats: the holder stays live 3 s unheard
  cluster.StartBroker();
  zmq::context_t context(1);
  // One connection per simulated worker process; the reply to a register.
  auto register_as = [&](zmq::socket_t& socket, const std::string& session, const std::string& nanny,
                         int pid) {
    nlohmann::json body = {{"name", "same"}, {"pid", pid}, {"session", session}, {"host", "h" + std::to_string(pid)},
                           {"slots", 0}, {"queues", {"default"}}, {"fns", nlohmann::json::array()},
                           {"running", nlohmann::json::array()}, {"nanny", nanny}};
    const std::string frames[] = {"LEASEQ1", "register", body.dump()};
    socket.send(zmq::buffer(frames[0]), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(frames[1]), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(frames[2]), zmq::send_flags::none);
    std::vector<std::string> reply;
    zmq::message_t part;
    do {
      if (!socket.recv(part)) return reply;
      reply.emplace_back(part.to_string());
    } while (part.more());
    return reply;
  };
  auto connect = [&] {
    zmq::socket_t s(context, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 3000);
    s.connect(cluster.endpoint());
    return s;
  };
  zmq::socket_t first = connect(), stranger = connect(), next = connect();
  auto welcomed = register_as(first, "n1.1", "n1", 101);
  ASSERT_EQ(welcomed.size(), 3u);
  ASSERT_EQ(welcomed[1], "welcome") << welcomed[2];

  auto refused = register_as(stranger, "n2.1", "n2", 202);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[1], "error");
  auto body = nlohmann::json::parse(refused[2]);
  EXPECT_EQ(body.value("code", ""), "name_in_use") << refused[2];
  EXPECT_EQ(body.value("message", ""), "name 'same' is in use by pid 101 on host h101") << refused[2];
  EXPECT_EQ(Query(cluster.db(), "SELECT pid FROM workers WHERE name = 'same'"), "101");

  welcomed = register_as(next, "n1.2", "n1", 303);
  ASSERT_EQ(welcomed.size(), 3u);
  EXPECT_EQ(welcomed[1], "welcome") << welcomed[2];
  EXPECT_EQ(Query(cluster.db(), "SELECT pid FROM workers WHERE name = 'same'"), "303");
}

TEST_F(WorkerNames, AfterABrokerRestartTheReconnectingHolderKeepsItsName) {
  cluster.StartBroker();
  Process& a = cluster.StartWorker({"--name", "same"});
  ASSERT_TRUE(WaitAlive("same")) << a.Stderr();
  ASSERT_EQ(cluster.Submit({"--key", "slow", "--", "sleep", "3"}).exit_code, 0);
  ASSERT_TRUE(WaitState("slow", "running"));
  cluster.StopBroker(SIGKILL);
  cluster.StartBroker();
  // The newcomer may come before the holder has reconnected: it must wait
  // (the name is reserved during the restart grace), then be refused.
  Process& b = cluster.StartWorker({"--name", "same"});
  ASSERT_TRUE(b.WaitExit(15s)) << "the second worker kept running:\n" << b.Stderr() << cluster.broker().Stderr();
  EXPECT_EQ(b.exit_code(), 4);  // kExitNameInUse: not a crash, not bad flags
  EXPECT_NE(b.Stderr().find(InUse("same", a.pid())), std::string::npos) << b.Stderr();
  ASSERT_TRUE(WaitState("slow", "done")) << cluster.broker().Stderr();
  ExpectRanOnceWithoutBlame("slow");
  EXPECT_TRUE(a.running());
}

TEST_F(WorkerNames, DefaultNamesAreHostPidAndARandomSuffix) {
  cluster.StartBroker();
  Process& w1 = cluster.StartWorker({});
  Process& w2 = cluster.StartWorker({});
  ASSERT_TRUE(WaitFor([&] { return QueryInt(cluster.db(), "SELECT count(*) FROM workers WHERE state = 'alive'") == 2; }, 10s))
      << w1.Stderr() << w2.Stderr();
  for (Process* w : {&w1, &w2}) {
    const std::string name = Query(cluster.db(), "SELECT name FROM workers WHERE pid = " + std::to_string(w->pid()));
    // The suffix is what keeps containers apart where every worker is pid 1.
    const std::regex format(std::regex_replace(ThisHost(), std::regex(R"([.\\^$|()\[\]{}*+?])"), R"(\$&)") + "-" +
                            std::to_string(w->pid()) + "-[0-9a-f]{8}");
    EXPECT_TRUE(std::regex_match(name, format)) << name;
  }
}

}  // namespace
}  // namespace leaseq::testing
