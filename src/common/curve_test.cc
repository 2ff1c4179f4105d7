#include "common/curve.h"
#include "common/handshake_monitor.h"
#include "common/zap_authenticator.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tools/testing/temp_dir.h"

namespace leaseq::curve {
namespace {

namespace fs = std::filesystem;

using test_support::TempDir;

std::string Read(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

mode_t Mode(const std::string& file) {
  struct stat st;
  if (stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(Curve, LibzmqHasCurve) { EXPECT_TRUE(Available()); }

TEST(Curve, KeygenWritesOneLineFilesWithModes) {
  TempDir dir;
  KeyPair keys;
  ASSERT_TRUE(Generate(&keys).ok());
  const std::string path = dir.File("worker1");
  Status s = WriteKeyFiles(path, keys);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Mode(path + ".secret"), 0600u);
  EXPECT_EQ(Mode(path + ".pub"), 0644u);
  EXPECT_EQ(Read(path + ".secret"), keys.secret_key + "\n");
  EXPECT_EQ(Read(path + ".pub"), keys.public_key + "\n");
  EXPECT_TRUE(CheckKeyText(keys.public_key, "pub").ok());
  EXPECT_TRUE(CheckKeyText(keys.secret_key, "secret").ok());

  KeyPair loaded;
  s = LoadSecretFile(path + ".secret", &loaded);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(loaded.secret_key, keys.secret_key);
  EXPECT_EQ(loaded.public_key, keys.public_key);  // derived
  std::string pub;
  ASSERT_TRUE(LoadPublicFile(path + ".pub", &pub).ok());
  EXPECT_EQ(pub, keys.public_key);
}

TEST(Curve, KeygenNeverOverwrites) {
  TempDir dir;
  KeyPair a, b;
  ASSERT_TRUE(Generate(&a).ok());
  ASSERT_TRUE(Generate(&b).ok());
  const std::string path = dir.File("k");
  ASSERT_TRUE(WriteKeyFiles(path, a).ok());
  Status s = WriteKeyFiles(path, b);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_NE(s.message().find("already exists"), std::string::npos) << s.message();
  EXPECT_EQ(Read(path + ".secret"), a.secret_key + "\n");
  EXPECT_EQ(Read(path + ".pub"), a.public_key + "\n");

  // Only the .pub exists: nothing is written either.
  const std::string other = dir.File("other");
  Write(other + ".pub", a.public_key + "\n");
  EXPECT_EQ(WriteKeyFiles(other, b).code(), Status::Code::kConflict);
  EXPECT_FALSE(fs::exists(other + ".secret"));
}

// The README's recipe writes keys into a directory that does not exist yet.
TEST(Curve, KeygenMakesMissingDirectoriesOwnerOnly) {
  TempDir dir;
  KeyPair keys;
  ASSERT_TRUE(Generate(&keys).ok());
  Status s = WriteKeyFiles(dir.File("no/such/dir/k"), keys);
  ASSERT_TRUE(s.ok()) << s.message();
  struct stat st;
  ASSERT_EQ(stat(dir.File("no/such").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // A file in the way is an IoError naming it.
  s = WriteKeyFiles(dir.File("no/such/dir/k.pub/x"), keys);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("k.pub"), std::string::npos) << s.message();
}

TEST(Curve, BadKeyFilesAreRefusedNamingTheFile) {
  TempDir dir;
  KeyPair keys;
  ASSERT_TRUE(Generate(&keys).ok());
  struct Case {
    const char* name;
    std::string text;
    const char* expect;
  };
  const Case cases[] = {
      {"empty.pub", "", "empty"},
      {"short.pub", "abc\n", "3 characters"},
      {"twolines.pub", keys.public_key + "\n" + keys.public_key + "\n", "characters"},
      {"notz85.pub", std::string(39, 'a') + "~\n", "not Z85"},
  };
  for (const auto& c : cases) {
    Write(dir.File(c.name), c.text);
    std::string key;
    Status s = LoadPublicFile(dir.File(c.name), &key);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << c.name;
    EXPECT_NE(s.message().find(dir.File(c.name)), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
  std::string key;
  Status s = LoadPublicFile(dir.File("missing.pub"), &key);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("missing.pub"), std::string::npos) << s.message();

  // White space around the key (a CRLF, a stray blank) is fine.
  Write(dir.File("crlf.pub"), "  " + keys.public_key + "\r\n");
  ASSERT_TRUE(LoadPublicFile(dir.File("crlf.pub"), &key).ok());
  EXPECT_EQ(key, keys.public_key);
}

TEST(Curve, TheWrongHalfOfAPairIsRefused) {
  TempDir dir;
  KeyPair keys;
  ASSERT_TRUE(Generate(&keys).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("k"), keys).ok());
  KeyPair pair;
  Status s = LoadSecretFile(dir.File("k.pub"), &pair);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("public key"), std::string::npos) << s.message();
  std::string pub;
  s = LoadPublicFile(dir.File("k.secret"), &pub);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("secret key"), std::string::npos) << s.message();
}

TEST(Curve, ClientSettingsGoTogether) {
  TempDir dir;
  KeyPair me, broker;
  ASSERT_TRUE(Generate(&me).ok());
  ASSERT_TRUE(Generate(&broker).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("me"), me).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("broker"), broker).ok());

  ClientSettings c;
  ASSERT_TRUE(LoadClient("", "", &c).ok());
  EXPECT_FALSE(c.enabled);
  Status s = LoadClient(dir.File("me.secret"), "", &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("--curve-server"), std::string::npos) << s.message();
  s = LoadClient("", dir.File("broker.pub"), &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("--curve-secret"), std::string::npos) << s.message();

  s = LoadClient(dir.File("me.secret"), dir.File("broker.pub"), &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.own.public_key, me.public_key);
  EXPECT_EQ(c.server_public, broker.public_key);
}

TEST(Curve, EnvironmentFillsAbsentFlags) {
  TempDir dir;
  KeyPair me, broker;
  ASSERT_TRUE(Generate(&me).ok());
  ASSERT_TRUE(Generate(&broker).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("me"), me).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("broker"), broker).ok());
  setenv("LEASEQ_CURVE_SECRET", dir.File("me.secret").c_str(), 1);
  setenv("LEASEQ_CURVE_SERVER", dir.File("broker.pub").c_str(), 1);
  ClientSettings c;
  Status s = LoadClientFromFlagsOrEnv("", "", &c);
  unsetenv("LEASEQ_CURVE_SECRET");
  unsetenv("LEASEQ_CURVE_SERVER");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.own.public_key, me.public_key);
  EXPECT_EQ(c.server_file, dir.File("broker.pub"));
  ASSERT_TRUE(LoadClientFromFlagsOrEnv("", "", &c).ok());
  EXPECT_FALSE(c.enabled);
}

TEST(Curve, ServerSettingsGoTogether) {
  TempDir dir;
  KeyPair broker;
  ASSERT_TRUE(Generate(&broker).ok());
  ASSERT_TRUE(WriteKeyFiles(dir.File("broker"), broker).ok());
  ServerSettings s;
  ASSERT_TRUE(LoadServer("", "", &s).ok());
  EXPECT_FALSE(s.enabled);
  EXPECT_FALSE(LoadServer(dir.File("broker.secret"), "", &s).ok());
  EXPECT_FALSE(LoadServer("", dir.path(), &s).ok());
  Status st = LoadServer(dir.File("broker.secret"), dir.File("nope"), &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a directory"), std::string::npos) << st.message();
  ASSERT_TRUE(LoadServer(dir.File("broker.secret"), dir.path(), &s).ok());
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.own.public_key, broker.public_key);
}

TEST(Curve, AllowDirReadsPubFilesOnly) {
  TempDir dir;
  KeyPair a, b;
  ASSERT_TRUE(Generate(&a).ok());
  ASSERT_TRUE(Generate(&b).ok());
  Write(dir.File("alice.pub"), a.public_key + "\n");
  Write(dir.File("bob.pub"), b.public_key + "\n");
  Write(dir.File("notes.txt"), "not a key");
  Write(dir.File("broken.pub"), "garbage\n");
  std::map<std::string, std::string> keys;
  std::vector<std::string> bad;
  ASSERT_TRUE(ReadAllowDir(dir.path(), &keys, &bad).ok());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[a.public_key], "alice");
  EXPECT_EQ(keys[b.public_key], "bob");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("broken.pub"), std::string::npos) << bad[0];
  EXPECT_EQ(ReadAllowDir(dir.File("missing"), &keys, &bad).code(), Status::Code::kIoError);

  // A malformed key stops the broker at start-up, naming the file.
  zmq::context_t context(1);
  std::unique_ptr<Authenticator> auth;
  Status s = Authenticator::Start(context, dir.path(), &auth);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("broken.pub"), std::string::npos) << s.message();
}

// An in-process CURVE server with the authenticator, and clients trying it.
class CurveServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Generate(&server_keys_).ok());
    ASSERT_TRUE(WriteKeyFiles(dir_.File("broker"), server_keys_).ok());
    fs::create_directory(allow_dir());
    ASSERT_TRUE(Generate(&allowed_).ok());
    ASSERT_TRUE(WriteKeyFiles(dir_.File("allowed"), allowed_).ok());
    fs::copy_file(dir_.File("allowed.pub"), allow_dir() + "/allowed.pub");
    ASSERT_TRUE(Generate(&stranger_).ok());
    ASSERT_TRUE(WriteKeyFiles(dir_.File("stranger"), stranger_).ok());

    ServerSettings settings;
    ASSERT_TRUE(LoadServer(dir_.File("broker.secret"), allow_dir(), &settings).ok());
    Status s = Authenticator::Start(server_context_, allow_dir(), &auth_);
    ASSERT_TRUE(s.ok()) << s.message();
    server_ = std::make_unique<zmq::socket_t>(server_context_, zmq::socket_type::router);
    server_->set(zmq::sockopt::linger, 0);
    ApplyServer(*server_, settings);
    server_->bind("tcp://127.0.0.1:*");
    endpoint_ = server_->get(zmq::sockopt::last_endpoint);
  }
  void TearDown() override {
    server_.reset();
    auth_.reset();
  }
  std::string allow_dir() const { return dir_.File("allow"); }

  ClientSettings Client(const std::string& name, const std::string& server_pub = "broker.pub") {
    ClientSettings c;
    Status s = LoadClient(dir_.File(name + ".secret"), dir_.File(server_pub), &c);
    EXPECT_TRUE(s.ok()) << s.message();
    return c;
  }

  // Sends "ping" and serves the server side; returns "" when the server
  // got it, else the refusal the client's monitor reported ("timeout" if
  // neither within 3 s).
  std::string Try(const ClientSettings& settings) {
    zmq::context_t context(1);
    HandshakeMonitor monitor;
    std::string outcome = "timeout";
    {
      zmq::socket_t client(context, zmq::socket_type::dealer);
      client.set(zmq::sockopt::linger, 0);
      ApplyClient(client, settings);
      Status s = monitor.Attach(context, client, settings, endpoint_);
      EXPECT_TRUE(s.ok()) << s.message();
      client.connect(endpoint_);
      client.send(zmq::str_buffer("ping"), zmq::send_flags::dontwait);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      while (std::chrono::steady_clock::now() < deadline) {
        zmq::pollitem_t items[] = {{server_->handle(), 0, ZMQ_POLLIN, 0},
                                   {monitor.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(50));
        if (items[0].revents & ZMQ_POLLIN) {
          zmq::message_t id, body;
          (void)server_->recv(id);
          (void)server_->recv(body);
          if (body.to_string() == "ping") {
            outcome = "";
            break;
          }
        }
        if (monitor.Poll()) {
          outcome = monitor.refusal();
          break;
        }
      }
    }
    monitor.Detach();
    return outcome;
  }

  TempDir dir_;
  KeyPair server_keys_, allowed_, stranger_;
  zmq::context_t server_context_{1};
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<zmq::socket_t> server_;
  std::string endpoint_;
};

TEST_F(CurveServerTest, AllowedKeyGetsThrough) { EXPECT_EQ(Try(Client("allowed")), ""); }

TEST_F(CurveServerTest, UnknownKeyIsRefusedAndTheClientIsTold) {
  std::string r = Try(Client("stranger"));
  EXPECT_NE(r.find("refused our CURVE key"), std::string::npos) << r;
  EXPECT_NE(r.find(stranger_.public_key), std::string::npos) << r;
}

TEST_F(CurveServerTest, ClientWithoutCurveIsToldTheBrokerRequiresIt) {
  std::string r = Try(ClientSettings());
  EXPECT_NE(r.find("requires CURVE"), std::string::npos) << r;
  EXPECT_NE(r.find("--curve-secret"), std::string::npos) << r;
}

TEST_F(CurveServerTest, WrongServerKeyIsReportedAfterRepeatedFailures) {
  std::string r = Try(Client("allowed", "stranger.pub"));
  EXPECT_NE(r.find("stranger.pub"), std::string::npos) << r;
  EXPECT_NE(r.find("CURVE handshake"), std::string::npos) << r;
}

TEST_F(CurveServerTest, KeyAddedLaterIsAdmittedWithoutARestart) {
  EXPECT_NE(Try(Client("stranger")), "");
  // An unknown key re-reads the directory at most every 100 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  fs::copy_file(dir_.File("stranger.pub"), allow_dir() + "/stranger.pub");
  EXPECT_EQ(Try(Client("stranger")), "");
}

TEST_F(CurveServerTest, KeyRemovedIsRefusedForNewConnections) {
  EXPECT_EQ(Try(Client("allowed")), "");
  fs::remove(allow_dir() + "/allowed.pub");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the re-read interval
  std::string r = Try(Client("allowed"));
  EXPECT_NE(r.find("refused our CURVE key"), std::string::npos) << r;
}

TEST_F(CurveServerTest, OneAuthenticatorPerContext) {
  std::unique_ptr<Authenticator> second;
  Status s = Authenticator::Start(server_context_, allow_dir(), &second);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_NE(s.message().find("zeromq.zap.01"), std::string::npos) << s.message();
}

TEST(Curve, PlainClientAgainstPlainServerIsNotRefused) {
  zmq::context_t context(1);
  zmq::socket_t server(context, zmq::socket_type::router);
  server.set(zmq::sockopt::linger, 0);
  server.bind("tcp://127.0.0.1:*");
  const std::string endpoint = server.get(zmq::sockopt::last_endpoint);
  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.set(zmq::sockopt::linger, 0);
  HandshakeMonitor monitor;
  ASSERT_TRUE(monitor.Attach(context, client, ClientSettings(), endpoint).ok());
  client.connect(endpoint);
  client.send(zmq::str_buffer("ping"), zmq::send_flags::none);
  zmq::message_t id, body;
  ASSERT_TRUE(server.recv(id));
  ASSERT_TRUE(server.recv(body));
  EXPECT_FALSE(monitor.Poll());
  EXPECT_EQ(monitor.last_failure(), "");
  monitor.Detach();
}

}  // namespace
}  // namespace leaseq::curve
