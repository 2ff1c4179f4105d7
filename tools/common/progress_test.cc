#include "tools/common/progress.h"

#include <gtest/gtest.h>

namespace leaseq::tools {
namespace {

ProgressSnapshot Snapshot() {
  ProgressSnapshot s;
  s.total = 200;
  s.counts.n = {10, 64, 4, 120, 2, 0};  // waiting queued running done failed cancelled
  s.done_at_start = 20;
  s.elapsed_seconds = 10;
  return s;
}

TEST(Progress, ShowsCountsRateAndEta) {
  // 100 done in 10 s = 10/s; 78 left -> 7.8 s.
  EXPECT_EQ(FormatProgressLine(Snapshot(), 200),
            "[############--------] 120/200 done, 2 failed, 4 running, 74 queued  10/s  ETA 8s");
}

TEST(Progress, CancelledShownOnlyWhenThereAreSome) {
  ProgressSnapshot s = Snapshot();
  s.counts.n[5] = 3;
  EXPECT_NE(FormatProgressLine(s, 200).find(" 3 cancelled, "), std::string::npos);
  EXPECT_EQ(FormatProgressLine(Snapshot(), 200).find("cancelled"), std::string::npos);
}

TEST(Progress, NoRateYetMeansUnknownEta) {
  ProgressSnapshot s = Snapshot();
  s.done_at_start = 120;
  EXPECT_NE(FormatProgressLine(s, 200).find("0.0/s  ETA --"), std::string::npos);
}

TEST(Progress, FinishedShowsElapsedTime) {
  ProgressSnapshot s;
  s.total = 5;
  s.counts.n = {0, 0, 0, 5, 0, 0};
  s.elapsed_seconds = 125;
  EXPECT_EQ(FormatProgressLine(s, 200),
            "[####################] 5/5 done, 0 failed, 0 running, 0 queued  0.0/s  2m05s");
}

TEST(Progress, NarrowTerminalDropsTheBarThenCuts) {
  const std::string wide = FormatProgressLine(Snapshot(), 200);
  const std::string narrow = FormatProgressLine(Snapshot(), 70);
  EXPECT_EQ(narrow.find('['), std::string::npos);
  EXPECT_EQ(narrow, wide.substr(wide.find("] ") + 2));
  EXPECT_EQ(FormatProgressLine(Snapshot(), 21).size(), 20u);
}

TEST(Progress, Durations) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(59.4), "59s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(7260), "2h01m");
}

TEST(Progress, DisabledBarWritesNothing) {
  testing::internal::CaptureStderr();
  {
    ProgressBar bar(false);
    bar.Update(Snapshot().counts, 200);
    bar.Finish();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace leaseq::tools
