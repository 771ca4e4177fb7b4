#include "sim/sim_state.h"

#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

TEST(SimStateTest, RoundTripsEveryField) {
  SimState state;
  state.coordinator_address = "127.0.0.1:40123";
  state.pids = {4711, 4712};
  state.network = {{"ts9w1", "ts9w2"}, {"ts9h1", "ts9h2"}, "ts9br"};
  const std::string text = FormatSimState(state);
  EXPECT_EQ(text,
            "coordinator 127.0.0.1:40123\npid 4711\npid 4712\nnetns ts9w1\n"
            "netns ts9w2\nveth ts9h1\nveth ts9h2\nbridge ts9br\n");
  auto parsed = ParseSimState(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->coordinator_address, state.coordinator_address);
  EXPECT_EQ(parsed->pids, state.pids);
  EXPECT_EQ(parsed->network.netns, state.network.netns);
  EXPECT_EQ(parsed->network.veths, state.network.veths);
  EXPECT_EQ(parsed->network.bridge, "ts9br");
}

TEST(SimStateTest, LoopbackStateHasNoNetwork) {
  auto parsed = ParseSimState("coordinator 127.0.0.1:1\npid 99\n");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->network.empty());
}

TEST(SimStateTest, RejectsWhatItDoesNotWrite) {
  for (const char* bad :
       {"pid 1\n", "pid -5\n", "pid x\n", "frobnicate 3\n",
        "veth -ts9h1\n",  // would be an option of `ip`
        "netns a/b\n", "bridge \n", "veth waytoolongname01\n"}) {
    auto parsed = ParseSimState(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace tessera::sim
