#include "broker/answer_spin.h"

#include <gtest/gtest.h>

namespace leaseq {
namespace {

TEST(AnswerSpin, SpinsWhileAnswersComeBackWithinTheWindow) {
  AnswerSpin s;
  EXPECT_TRUE(s.ShouldSpin());  // a new broker tries
  for (int i = 0; i < 100; ++i) s.Observe(true);
  EXPECT_TRUE(s.ShouldSpin());
}

TEST(AnswerSpin, StopsWhenAnswersComeLaterAndStartsAgainWhenTheyComeSooner) {
  AnswerSpin s;
  int spun = 0;
  for (int i = 0; i < 100; ++i) {  // commands that run for milliseconds
    spun += s.ShouldSpin();
    s.Observe(false);
  }
  EXPECT_FALSE(s.ShouldSpin());
  EXPECT_LE(spun, 5);  // a few spins wasted, then none
  for (int i = 0; i < 4; ++i) s.Observe(true);  // a client polling fast
  EXPECT_TRUE(s.ShouldSpin());
}

TEST(AnswerSpin, MostAnswersLateMeansNoSpinning) {
  AnswerSpin s;
  int spun = 0;
  for (int i = 0; i < 300; ++i) {
    spun += s.ShouldSpin();
    s.Observe(i % 3 == 0);  // one in three within the window
  }
  EXPECT_LE(spun, 20);
}

}  // namespace
}  // namespace leaseq
