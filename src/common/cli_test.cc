#include "common/cli.h"

#include <gtest/gtest.h>

namespace leaseq::cli {
namespace {

int ParseArgs(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), "leaseq-test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto done = Parse(app, static_cast<int>(argv.size()), argv.data());
  return done ? *done : -1;
}

TEST(Nearest, SuggestsACloseFlagOrSubcommand) {
  EXPECT_EQ(Nearest("--slot", {"--slots", "--name", "--nanny"}), "--slots");
  EXPECT_EQ(Nearest("stauts", {"status", "workers", "show"}), "status");
  EXPECT_EQ(Nearest("--nany", {"--nanny", "--name"}), "--nanny");
}

TEST(Nearest, SaysNothingWhenNothingIsClose) {
  EXPECT_EQ(Nearest("--frobnicate", {"--slots", "--name"}), "");
  EXPECT_EQ(Nearest("x", {"ab"}), "");
}

TEST(Parse, VersionAndHelpExitZeroUsageErrorsExitTwo) {
  {
    CLI::App app{"t"};
    AddVersionFlag(app);
    testing::internal::CaptureStdout();
    EXPECT_EQ(ParseArgs(app, {"--version"}), 0);
    EXPECT_NE(testing::internal::GetCapturedStdout().find(VersionText()), std::string::npos);
  }
  {
    CLI::App app{"t"};
    int slots = 0;
    app.add_option("--slots", slots);
    testing::internal::CaptureStderr();
    EXPECT_EQ(ParseArgs(app, {"--slot", "3"}), 2);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("did you mean '--slots'"), std::string::npos) << err;
  }
  {
    CLI::App app{"t"};
    int slots = 0;
    app.add_option("--slots", slots);
    EXPECT_EQ(ParseArgs(app, {"--slots", "many"}), 2);
    EXPECT_EQ(ParseArgs(app, {"--slots", "4"}), -1);
  }
}

}  // namespace
}  // namespace leaseq::cli
