// CURVE security (README "Security"): keygen, a broker that admits only the
// keys of its --curve-allow directory, permitted and refused workers and
// clients, and the bind policy with and without CURVE.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <zmq.hpp>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t Mode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

CommandResult Keygen(const std::string& path) {
  return RunCommand(BinDir() + "/leaseq-ctl", {"keygen", path});
}

// One line of 40 Z85 characters.
bool IsZ85Line(const std::string& text) {
  static const std::regex kLine(R"(^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}\n$)");
  return std::regex_match(text, kLine);
}

class Curve : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("LEASEQ_CURVE_SECRET");
    unsetenv("LEASEQ_CURVE_SERVER");
    ASSERT_TRUE(fs::create_directory(AllowDir()));
    for (const char* name : {"broker", "client", "worker", "stranger"}) {
      auto r = Keygen(Key(name));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    fs::copy_file(Key("client") + ".pub", AllowDir() + "/client.pub");
    fs::copy_file(Key("worker") + ".pub", AllowDir() + "/worker.pub");
    cluster.set_client_env(Env("client"));
  }

  std::string Key(const std::string& name) const { return keys.File(name); }
  std::string AllowDir() const { return keys.File("allow"); }
  // The LEASEQ_CURVE_* environment of a peer with the key pair `name`.
  std::map<std::string, std::string> Env(const std::string& name) const {
    return {{"LEASEQ_CURVE_SECRET", Key(name) + ".secret"},
            {"LEASEQ_CURVE_SERVER", Key("broker") + ".pub"}};
  }
  std::vector<std::string> CurveFlags(const std::string& name) const {
    return {"--curve-secret", Key(name) + ".secret", "--curve-server", Key("broker") + ".pub"};
  }
  std::vector<std::string> BrokerArgs() const {
    std::vector<std::string> a = kFastBroker;
    a.insert(a.end(), {"--curve-secret", Key("broker") + ".secret", "--curve-allow", AllowDir()});
    return a;
  }
  // leaseq-submit / leaseq-ctl with exactly these flags and environment.
  CommandResult Run(const std::string& tool, std::vector<std::string> args,
                    const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"--broker", cluster.endpoint()});
    return RunCommand(BinDir() + "/" + tool, args, env);
  }
  int64_t Tasks() { return QueryInt(cluster.db(), "SELECT count(*) FROM tasks"); }

  TempDir keys;  // before the cluster: its broker arguments name these files
  Cluster cluster{BrokerArgs()};
};

TEST_F(Curve, KeygenWritesASecretAndAPublicKeyOfOneZ85LineEach) {
  const std::string secret = Key("client") + ".secret";
  const std::string pub = Key("client") + ".pub";
  EXPECT_EQ(Mode(secret), 0600u);
  EXPECT_EQ(Mode(pub), 0644u);
  const std::string secret_text = ReadAll(secret);
  const std::string pub_text = ReadAll(pub);
  EXPECT_TRUE(IsZ85Line(secret_text)) << secret_text;
  EXPECT_TRUE(IsZ85Line(pub_text)) << pub_text;
  // .secret holds the secret key; the public key derives from it.
  char derived[41] = {};
  ASSERT_EQ(zmq_curve_public(derived, secret_text.substr(0, 40).c_str()), 0);
  EXPECT_EQ(std::string(derived) + "\n", pub_text);

  // Never overwrites: exit 2, the files unchanged.
  auto again = Keygen(Key("client"));
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(ReadAll(secret), secret_text);
  EXPECT_EQ(ReadAll(pub), pub_text);
}

TEST_F(Curve, PermittedWorkerAndClientRunATaskToDone) {
  cluster.StartBroker();
  // The worker's keys by flags, under a nanny (which passes them on).
  std::vector<std::string> worker_args = {"--name", "w1", "--nanny"};
  auto flags = CurveFlags("worker");
  worker_args.insert(worker_args.end(), flags.begin(), flags.end());
  cluster.StartWorker(worker_args);
  // The client's keys by flags here, by environment in cluster.Ctl below.
  std::vector<std::string> submit = CurveFlags("client");
  submit.insert(submit.end(), {"--key", "t1", "--", "sh", "-c", "echo secret-$LEASEQ_TASK_KEY"});
  auto s = Run("leaseq-submit", submit);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out, "t1\n");
  auto w = cluster.Ctl({"wait", "t1"});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  auto r = cluster.Ctl({"result", "t1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "secret-t1\n");
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM workers WHERE name = 'w1'"), "alive");

  // The nanny's `lost` notice (its own Client, with the worker's keys) gets
  // through too.
  std::string pid = Query(cluster.db(), "SELECT pid FROM workers WHERE name = 'w1'");
  ASSERT_FALSE(pid.empty());
  kill(std::stoi(pid), SIGKILL);
  Process& nanny = *cluster.workers().back();
  EXPECT_TRUE(WaitFor([&] { return nanny.Stderr().find("told the broker that worker pid " + pid) !=
                                   std::string::npos; },
                      10s))
      << nanny.Stderr();
}

TEST_F(Curve, ClientWithUnknownKeyOrNoKeyIsRefusedClearlyAndStoresNothing) {
  cluster.StartBroker();
  // An unknown key, by flags and by environment.
  std::vector<std::string> submit = CurveFlags("stranger");
  submit.insert(submit.end(), {"--key", "x1", "--", "true"});
  auto a = Run("leaseq-submit", submit);
  EXPECT_NE(a.exit_code, 0);
  EXPECT_NE(a.err.find("refused our CURVE key"), std::string::npos) << a.err;
  auto b = Run("leaseq-ctl", {"status"}, Env("stranger"));
  EXPECT_EQ(b.exit_code, 3);
  EXPECT_NE(b.err.find("refused our CURVE key"), std::string::npos) << b.err;
  EXPECT_EQ(b.out, "");
  // No key at all.
  auto c = Run("leaseq-submit", {"--key", "x2", "--", "true"});
  EXPECT_NE(c.exit_code, 0);
  EXPECT_NE(c.err.find("requires CURVE"), std::string::npos) << c.err;
  auto d = Run("leaseq-ctl", {"cancel", "x1"});
  EXPECT_EQ(d.exit_code, 3);
  EXPECT_NE(d.err.find("requires CURVE"), std::string::npos) << d.err;
  // A wrong broker key: the handshake fails, and the message names the file.
  auto e = Run("leaseq-ctl", {"--curve-secret", Key("client") + ".secret", "--curve-server",
                              Key("stranger") + ".pub", "status"});
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_NE(e.err.find("stranger.pub"), std::string::npos) << e.err;
  EXPECT_EQ(Tasks(), 0);
  // Half a configuration is bad usage.
  auto f = Run("leaseq-ctl", {"--curve-secret", Key("client") + ".secret", "status"});
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_NE(f.err.find("--curve-server"), std::string::npos) << f.err;
  EXPECT_NE(cluster.broker().Stderr().find("refused a peer"), std::string::npos);
}

TEST_F(Curve, WorkerWithUnknownKeyOrNoKeyNeverGetsATask) {
  cluster.StartBroker();
  std::vector<std::string> stranger = {"--name", "intruder"};
  auto flags = CurveFlags("stranger");
  stranger.insert(stranger.end(), flags.begin(), flags.end());
  Process& intruder = cluster.StartWorker(stranger);
  // No keys: bypass the cluster's environment.
  Process plain(BinDir() + "/leaseq-worker", {"--broker", cluster.endpoint(), "--name", "plain"},
                cluster.dir().File("plain-worker"));
  auto s = cluster.Submit({"--key", "t", "--", "echo", "hi"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  // Several heartbeats and reconnects later, still nobody has it.
  EXPECT_FALSE(WaitFor([&] { return cluster.CountState("queued") != 1; }, 3s));
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM workers"), 0);
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts"), 0);
  EXPECT_NE(intruder.Stderr().find("refused our CURVE key"), std::string::npos) << intruder.Stderr();
  EXPECT_NE(plain.Stderr().find("requires CURVE"), std::string::npos) << plain.Stderr();
  EXPECT_TRUE(intruder.running());
  EXPECT_TRUE(plain.running());
}

TEST_F(Curve, KeyAddedToTheAllowDirectoryIsAdmittedWithoutARestart) {
  cluster.StartBroker();
  auto before = Run("leaseq-ctl", {"status"}, Env("stranger"));
  EXPECT_EQ(before.exit_code, 3) << before.err;
  fs::copy_file(Key("stranger") + ".pub", AllowDir() + "/stranger.pub");
  EXPECT_TRUE(WaitFor([&] { return Run("leaseq-ctl", {"status"}, Env("stranger")).exit_code == 0; },
                      5s));
}

TEST_F(Curve, NonLoopbackBindNeedsCurveOrInsecure) {
  const int port = FreePort();
  const std::string any = "tcp://0.0.0.0:" + std::to_string(port);
  auto plain = RunCommand(BinDir() + "/leaseq-broker", {"--db", keys.File("a.db"), "--bind", any},
                          {}, "", 10s);
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_NE(plain.err.find("--insecure"), std::string::npos) << plain.err;
  EXPECT_FALSE(fs::exists(keys.File("a.db")));

  Process broker(BinDir() + "/leaseq-broker",
                 {"--db", keys.File("b.db"), "--bind", any, "--curve-secret",
                  Key("broker") + ".secret", "--curve-allow", AllowDir()},
                 keys.File("any-broker"));
  const std::string local = "tcp://127.0.0.1:" + std::to_string(port);
  auto status = [&] {
    return RunCommand(BinDir() + "/leaseq-ctl", {"--broker", local, "status"}, Env("client"));
  };
  EXPECT_TRUE(WaitFor([&] { return status().exit_code == 0; }, 10s)) << broker.Stderr();
  EXPECT_TRUE(broker.running());
  broker.Signal(SIGTERM);
  EXPECT_TRUE(broker.WaitExit(10s));
}

TEST_F(Curve, BrokerRefusesABadCurveConfiguration) {
  // Half of it.
  auto half = RunCommand(BinDir() + "/leaseq-broker",
                         {"--db", keys.File("c.db"), "--bind", cluster.endpoint(), "--curve-secret",
                          Key("broker") + ".secret"},
                         {}, "", 10s);
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("--curve-allow"), std::string::npos) << half.err;
  // A public key where the secret belongs.
  auto swapped = RunCommand(BinDir() + "/leaseq-broker",
                            {"--db", keys.File("c.db"), "--bind", cluster.endpoint(),
                             "--curve-secret", Key("broker") + ".pub", "--curve-allow", AllowDir()},
                            {}, "", 10s);
  EXPECT_EQ(swapped.exit_code, 2);
  EXPECT_NE(swapped.err.find("public key"), std::string::npos) << swapped.err;
  // A malformed key in the allow directory.
  std::ofstream(AllowDir() + "/broken.pub") << "not a key\n";
  auto broken = RunCommand(BinDir() + "/leaseq-broker",
                           {"--db", keys.File("c.db"), "--bind", cluster.endpoint(),
                            "--curve-secret", Key("broker") + ".secret", "--curve-allow",
                            AllowDir()},
                           {}, "", 10s);
  EXPECT_NE(broken.exit_code, 0);
  EXPECT_NE(broken.err.find("broken.pub"), std::string::npos) << broken.err;
}

}  // namespace
}  // namespace leaseq::testing
