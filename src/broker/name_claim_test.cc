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

TEST(NameClaim, AWorkerOfTheHoldersNannyTakesTheName) {
  // The nanny reaped the holder: it is dead whatever the broker last heard.
  NameHolder h{State::kLive, "n1.1", 4242, "h1"};
  EXPECT_EQ(ClaimName(h, "n1.2", "n1"), NameVerdict::kAccept);
  EXPECT_EQ(ClaimName(h, "n1.7", "n1"), NameVerdict::kAccept);  // children that never registered
  h.state = State::kReserved;
  EXPECT_EQ(ClaimName(h, "n1.2", "n1"), NameVerdict::kAccept);
}

TEST(NameClaim, AnotherNannysWorkerIsRefused) {
  NameHolder h{State::kLive, "n1.1", 4242, "h1"};
  EXPECT_EQ(ClaimName(h, "n2.1", "n2"), NameVerdict::kInUse);
  // The claim must fit both sessions: "n1" names neither "n2.1" nor "n10.1".
  EXPECT_EQ(ClaimName(h, "n2.1", "n1"), NameVerdict::kInUse);
  EXPECT_EQ(ClaimName(NameHolder{State::kLive, "n10.1", 1, "h"}, "n1.2", "n1"), NameVerdict::kInUse);
  EXPECT_EQ(ClaimName(NameHolder{State::kLive, "n1", 1, "h"}, "n1.2", "n1"), NameVerdict::kInUse);
  // A plain worker's session names no nanny.
  EXPECT_EQ(ClaimName(Holder(State::kLive), "s2", "s1"), NameVerdict::kInUse);
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
