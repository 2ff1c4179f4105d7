// leaseq::Worker's registration rules (Run() itself is covered by the
// integration tests, with the real binaries).
#include "leaseq/worker.h"

#include <gtest/gtest.h>

namespace {

leaseq::FnStatus Noop(std::string_view, std::string*) { return leaseq::FnStatus::Ok(); }

TEST(PublicWorker, HasTheBuiltinsUnlessToldOtherwise) {
  leaseq::Worker w;
  EXPECT_EQ(w.Functions(), (std::vector<std::string>{"echo", "noop", "sleep"}));
  leaseq::Worker bare(leaseq::Worker::Options{.builtins = false});
  EXPECT_TRUE(bare.Functions().empty());
}

TEST(PublicWorker, RegisterAddsAndRefusesBadOrTakenNames) {
  leaseq::Worker w;
  EXPECT_TRUE(w.Register("upper", Noop).ok());
  EXPECT_EQ(w.Functions(), (std::vector<std::string>{"echo", "noop", "sleep", "upper"}));
  leaseq::FnStatus s = w.Register("echo", Noop);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'echo' is registered already"), std::string::npos) << s.message();
  EXPECT_FALSE(w.Register("two words", Noop).ok());
}

TEST(PublicWorker, RunRefusesToStartAfterAFailedRegister) {
  leaseq::Worker w;
  w.Register("", Noop);
  char arg0[] = "custom-worker";
  char* argv[] = {arg0, nullptr};
  EXPECT_EQ(w.Run(1, argv), 2);
}

TEST(PublicWorker, FnStatusCarriesTheMessage) {
  EXPECT_TRUE(leaseq::FnStatus().ok());
  EXPECT_TRUE(leaseq::FnStatus::Ok().ok());
  leaseq::FnStatus e = leaseq::FnStatus::Error("no");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.message(), "no");
}

}  // namespace
