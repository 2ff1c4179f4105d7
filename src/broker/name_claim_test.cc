#include "broker/name_claim.h"

#include <gtest/gtest.h>

namespace leaseq::rules {
namespace {

using State = NameHolder::State;

NameHolder Holder(State state) { return NameHolder{state, "s1", 4242, "h1"}; }

TEST(NameClaim, AFreeNameOrASilentHoldersNameIsTaken) {
  EXPECT_EQ(ClaimName(NameHolder{}, "s2", ""), NameVerdict::kAccept);
  EXPECT_EQ(ClaimName(Holder(State::kSilent), "s2", ""), NameVerdict::kAccept);
}

TEST(NameClaim, TheHoldersOwnSessionReconnects) {
  for (State s : {State::kLive, State::kSilent, State::kReserved}) {
    EXPECT_EQ(ClaimName(Holder(s), "s1", ""), NameVerdict::kAccept);
  }
}

TEST(NameClaim, AnotherSessionIsRefusedForGoodWhileTheHolderIsLive) {
  EXPECT_EQ(ClaimName(Holder(State::kLive), "s2", ""), NameVerdict::kInUse);
  EXPECT_EQ(ClaimName(Holder(State::kLive), "s2", "s3"), NameVerdict::kInUse);
}

TEST(NameClaim, AnotherSessionWaitsWhileTheHolderMayBeReconnectingAfterARestart) {
  EXPECT_EQ(ClaimName(Holder(State::kReserved), "s2", ""), NameVerdict::kReserved);
}

TEST(NameClaim, ReplacingTheHoldersSessionTakesTheName) {
  // A nanny reaped the holder: it is dead whatever the broker last heard.
  EXPECT_EQ(ClaimName(Holder(State::kLive), "s2", "s1"), NameVerdict::kAccept);
  EXPECT_EQ(ClaimName(Holder(State::kReserved), "s2", "s1"), NameVerdict::kAccept);
}

TEST(NameClaim, TheRefusalNamesTheHoldersPidAndHost) {
  EXPECT_EQ(NameInUseMessage("same", Holder(State::kLive)),
            "name 'same' is in use by pid 4242 on host h1");
  EXPECT_EQ(NameReservedMessage("same", Holder(State::kReserved))
                .rfind("name 'same' is in use by pid 4242 on host h1", 0),
            0u);
}

}  // namespace
}  // namespace leaseq::rules
