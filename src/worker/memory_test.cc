#include "worker/memory.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

namespace leaseq::worker {
namespace {

int64_t Parse(const std::string& text) {
  int64_t bytes = -1;
  Status s = ParseMemorySize(text, &bytes);
  EXPECT_TRUE(s.ok()) << text << ": " << s.message();
  return bytes;
}

TEST(ParseMemorySize, DecimalAndBinaryUnits) {
  EXPECT_EQ(Parse("1000000"), 1000000);
  EXPECT_EQ(Parse("400MB"), 400000000);
  EXPECT_EQ(Parse("400M"), 400000000);
  EXPECT_EQ(Parse("400mb"), 400000000);
  EXPECT_EQ(Parse("400 MB"), 400000000);
  EXPECT_EQ(Parse("1.5G"), 1500000000);
  EXPECT_EQ(Parse("1GiB"), int64_t{1} << 30);
  EXPECT_EQ(Parse("512KiB"), 512 * 1024);
  EXPECT_EQ(Parse("2k"), 2000);
  EXPECT_EQ(Parse("100B"), 100);
  EXPECT_EQ(Parse("0.5MiB"), 512 * 1024);
}

TEST(ParseMemorySize, RejectsNonsense) {
  int64_t bytes = 0;
  for (const char* bad : {"", "MB", "-1MB", "1.2.3G", "12 parsecs", "0", "0.1", "1e99TB", "."}) {
    Status s = ParseMemorySize(bad, &bytes);
    EXPECT_FALSE(s.ok()) << "'" << bad << "' was accepted";
    EXPECT_NE(s.message().find("bad memory size"), std::string::npos);
  }
}

TEST(ProcessTree, OwnProcessHasResidentMemory) {
  int64_t rss = 0;
  ASSERT_TRUE(ProcessTreeRss(getpid(), &rss).ok());
  EXPECT_GT(rss, 1 << 20);  // a gtest binary is well over a megabyte
  std::vector<pid_t> tree = ProcessTree(getpid());
  ASSERT_FALSE(tree.empty());
  EXPECT_EQ(tree.front(), getpid());
}

TEST(ProcessTree, IncludesChildren) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(child, 0);
  std::vector<pid_t> tree = ProcessTree(getpid());
  EXPECT_NE(std::find(tree.begin(), tree.end(), child), tree.end());
  int64_t with_child = 0, child_only = 0;
  EXPECT_TRUE(ProcessTreeRss(getpid(), &with_child).ok());
  EXPECT_TRUE(ProcessTreeRss(child, &child_only).ok());
  EXPECT_GT(child_only, 0);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(ProcessTree, GoneProcessIsNotFound) {
  int64_t rss = 0;
  EXPECT_FALSE(ProcessTreeRss(-5, &rss).ok());
  EXPECT_TRUE(ProcessTree(-5).empty());
}

}  // namespace
}  // namespace leaseq::worker
