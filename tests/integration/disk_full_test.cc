// A full disk, and a database that cannot be written: the broker refuses new
// submissions with a clear error on the client, keeps answering, never
// corrupts the file, and works again once space is back.
//
// The database lives on a small tmpfs mounted inside the test's directory
// (the cluster's leaseq.db is a symlink to it, so that SQLite puts the -wal
// and -shm files there too; the logs stay on the real disk). The disk is
// filled with a filler file until ENOSPC and freed by deleting it. Mounting
// needs root (CAP_SYS_ADMIN); without it the tests are skipped.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace leaseq::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDiskSize = "size=16m";
// The input of the task that cannot fit on the full disk. A task stores its
// input twice (the input column and the canonical spec), and the WAL holds
// copies of those pages until a checkpoint: 512 KiB needs about 2 MiB.
constexpr size_t kBigInput = 512 << 10;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A JSON Lines task with an input of n bytes (too big for any slack the
// database files have left on a full disk).
std::string BigTask(const std::string& key, size_t n) {
  return "{\"key\": \"" + key + "\", \"cmd\": [\"wc\", \"-c\"], \"input\": \"" + std::string(n, 'x') +
         "\"}\n";
}

// How many "pass rolled back" lines the broker logged.
size_t RolledBack(const std::string& log) {
  std::istringstream in(log);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find("rolled back") != std::string::npos;
  return n;
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    disk_ = cluster.dir().File("disk");
    ASSERT_EQ(mkdir(disk_.c_str(), 0755), 0) << std::strerror(errno);
    if (mount("tmpfs", disk_.c_str(), "tmpfs", 0, kDiskSize) != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
    ASSERT_EQ(symlink((disk_ + "/leaseq.db").c_str(), cluster.db().c_str()), 0) << std::strerror(errno);
    cluster.StartBroker();
    ASSERT_EQ(cluster.Ctl({"status"}).exit_code, 0) << cluster.broker().Stderr();
  }

  void TearDown() override {
    // Lazily: the broker (killed by ~Cluster after this) may still hold files.
    if (mounted_) umount2(disk_.c_str(), MNT_DETACH);
  }

  // Writes a filler file until the tmpfs has no space left.
  void Fill() {
    const std::string filler = disk_ + "/filler";
    int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::vector<char> chunk(64 << 10, 'f');
    for (size_t size : {size_t{64} << 10, size_t{4} << 10, size_t{512}, size_t{1}}) {
      while (write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
      }
    }
    const int err = errno;
    close(fd);
    ASSERT_EQ(err, ENOSPC) << std::strerror(err);
  }

  void Free() { ASSERT_EQ(unlink((disk_ + "/filler").c_str()), 0) << std::strerror(errno); }

  std::string IntegrityCheck() { return Query(cluster.db(), "PRAGMA integrity_check"); }

  bool WaitState(const std::string& key, const std::string& state, std::chrono::milliseconds t = 20s) {
    return WaitFor([&] { return Query(cluster.db(), "SELECT state FROM tasks WHERE key = '" + key + "'") == state; },
                   t);
  }

  Cluster cluster{kFastBroker};
  std::string disk_;
  bool mounted_ = false;
};

TEST_F(DiskFull, SubmissionFailsClearlyBrokerSurvivesAndRecovers) {
  cluster.StartWorker({"--name", "w1"});
  for (const char* key : {"b1", "b2", "b3"}) {
    auto r = cluster.Submit({"--key", key, "--", "echo", key});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_EQ(cluster.Ctl({"wait", "b1", "b2", "b3"}).exit_code, 0);

  Fill();
  // A submission that cannot fit: refused, clearly, and nothing of it stored.
  auto big = cluster.Submit({"--file", "-"}, BigTask("big", kBigInput));
  EXPECT_EQ(big.exit_code, 3) << big.out << big.err;  // the broker's trouble, not bad input
  EXPECT_NE(Lower(big.err).find("disk"), std::string::npos) << big.err;
  EXPECT_NE(Lower(big.err).find("full"), std::string::npos) << big.err;
  std::fprintf(stderr, "[disk full] leaseq-submit exit %d: %s", big.exit_code, big.err.c_str());
  // A small one may still fit in space the database files already hold; it
  // either commits (and is then stored) or is refused just as clearly.
  auto small = cluster.Submit({"--key", "small", "--", "echo", "small"});
  std::fprintf(stderr, "[disk full] small submission: exit %d %s", small.exit_code, small.err.c_str());
  if (small.exit_code != 0) {
    EXPECT_EQ(small.exit_code, 3) << small.err;
    EXPECT_NE(Lower(small.err).find("disk"), std::string::npos) << small.err;
  }

  // The broker is still there and answers.
  EXPECT_TRUE(cluster.broker().running());
  auto status = cluster.Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Query(cluster.db(), "SELECT count(*) FROM tasks WHERE key = 'big'"), "0");
  EXPECT_EQ(Query(cluster.db(), "SELECT count(*) FROM tasks WHERE key = 'small'"),
            small.exit_code == 0 ? "1" : "0");
  EXPECT_EQ(IntegrityCheck(), "ok");

  Free();
  auto again = cluster.Submit({"--file", "-"}, BigTask("big", kBigInput));
  ASSERT_EQ(again.exit_code, 0) << again.err << cluster.broker().Stderr();
  EXPECT_EQ(again.out, "big\n");
  auto waited = cluster.Ctl({"wait", "big"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  EXPECT_EQ(cluster.Ctl({"result", "big"}).out, std::to_string(kBigInput) + "\n");
  for (const char* key : {"b1", "b2", "b3"}) {
    auto r = cluster.Ctl({"result", key});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string(key) + "\n");
  }
  EXPECT_EQ(IntegrityCheck(), "ok");
  std::fprintf(stderr, "[disk full] broker: %zu pass(es) rolled back\n", RolledBack(cluster.broker().Stderr()));
}

TEST_F(DiskFull, RunningTaskIsCompletedOnceAfterSpaceIsFreed) {
  cluster.StartWorker({"--name", "w1"});
  auto r = cluster.Submit({"--key", "slow", "--", "sh", "-c", "sleep 1; echo slow"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitState("slow", "running"));
  Fill();
  // Full for several lease periods (600 ms each here) while the task ends and
  // the worker tries to deliver its result.
  auto big = cluster.Submit({"--file", "-"}, BigTask("big", kBigInput));
  EXPECT_NE(big.exit_code, 0);
  std::this_thread::sleep_for(3s);
  // A status read in the pass of a result that cannot be stored is answered
  // `unavailable` (it would show the task done): the next one answers.
  EXPECT_TRUE(WaitFor([&] { return cluster.Ctl({"status"}).exit_code == 0; }, 5s));
  EXPECT_EQ(IntegrityCheck(), "ok");
  Free();
  ASSERT_TRUE(WaitState("slow", "done")) << cluster.broker().Stderr();
  EXPECT_EQ(cluster.Ctl({"result", "slow"}).out, "slow\n");
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT count(*) FROM attempts WHERE task_key = 'slow' AND outcome = 'done'"), 1);
  // The worker never went away: the task should not be blamed for it.
  EXPECT_EQ(QueryInt(cluster.db(), "SELECT suspicious FROM tasks WHERE key = 'slow'"), 0)
      << Query(cluster.db(), "SELECT group_concat(outcome, ',') FROM attempts WHERE task_key = 'slow'") << "\n"
      << cluster.broker().Stderr();
  EXPECT_EQ(IntegrityCheck(), "ok");
}

TEST_F(DiskFull, BrokerKilledAndRestartedOnAFullDiskLosesNothing) {
  for (const char* key : {"b1", "b2"}) {
    ASSERT_EQ(cluster.Submit({"--key", key, "--", "echo", key}).exit_code, 0);
  }
  Fill();
  EXPECT_NE(cluster.Submit({"--file", "-"}, BigTask("big", kBigInput)).exit_code, 0);
  cluster.StopBroker(SIGKILL);
  cluster.StartBroker();
  auto status = cluster.Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err << cluster.broker().Stderr();
  EXPECT_EQ(cluster.CountState("queued"), 2);
  EXPECT_EQ(IntegrityCheck(), "ok");
  Free();
  auto again = cluster.Submit({"--file", "-"}, BigTask("big", kBigInput));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(cluster.CountState("queued"), 3);
  EXPECT_EQ(IntegrityCheck(), "ok");
}

// A database on a file system that became read-only while the broker was
// stopped: the broker says so and exits rather than run without storage; the
// file is intact and usable once the file system is writable again.
TEST_F(DiskFull, ReadOnlyFileSystemAtStartIsAClearError) {
  ASSERT_EQ(cluster.Submit({"--key", "b1", "--", "echo", "b1"}).exit_code, 0);
  cluster.StopBroker(SIGKILL);  // leaves the -wal and -shm files behind
  ASSERT_EQ(mount("tmpfs", disk_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, kDiskSize), 0)
      << std::strerror(errno);
  Process broker(BinDir() + "/leaseq-broker", {"--db", cluster.db(), "--bind", cluster.endpoint()},
                 cluster.dir().File("broker-ro"));
  const bool exited = broker.WaitExit(10s);
  const std::string err = broker.Stderr();
  std::fprintf(stderr, "[read-only] broker %s: %s", exited ? "exited" : "kept running", err.c_str());
  if (exited) {
    EXPECT_NE(broker.exit_code(), 0);
    EXPECT_TRUE(Lower(err).find("read-only") != std::string::npos ||
                Lower(err).find("readonly") != std::string::npos ||
                Lower(err).find("database") != std::string::npos)
        << err;
  } else {
    // Running without being able to write: it must refuse submissions clearly.
    auto r = cluster.Submit({"--key", "b2", "--", "true"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(Lower(r.err).find("read-only"), std::string::npos) << r.err;
    broker.Signal(SIGKILL);
    broker.WaitExit(5s);
  }
  ASSERT_EQ(mount("tmpfs", disk_.c_str(), "tmpfs", MS_REMOUNT, kDiskSize), 0) << std::strerror(errno);
  cluster.StartBroker();
  EXPECT_EQ(cluster.Ctl({"status"}).exit_code, 0);
  EXPECT_EQ(Query(cluster.db(), "SELECT state FROM tasks WHERE key = 'b1'"), "queued");
  EXPECT_EQ(IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace leaseq::testing
