#include "sim/emulation.h"

#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

constexpr char kCluster[] = R"pb(
  devices {
    name: "fast" backend: "cpu" memory_budget_bytes: 1000 step_overhead_ms: 1
    perf { format: TENSOR_FORMAT_Q8_0 decode_bytes_per_s: 9e9 prefill_flop_per_s: 1e9 }
    perf { format: TENSOR_FORMAT_F16 decode_bytes_per_s: 8e9 prefill_flop_per_s: 1e9 }
  }
  devices {
    name: "slow" backend: "cpu" memory_budget_bytes: 2000 step_overhead_ms: 1
    perf { format: TENSOR_FORMAT_Q8_0 decode_bytes_per_s: 1e9 prefill_flop_per_s: 1e9 }
  }
  default_link { latency_ms: 3 bandwidth_bytes_per_s: 25e6 jitter_ms: 2 }
  links { from: "slow" to: "fast" latency_ms: 1 bandwidth_bytes_per_s: 125e6 }
)pb";

TEST(EmulationTest, SlowdownBudgetAndLinksPerDevice) {
  auto cluster = ParseSimCluster(kCluster, "test");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto plan = PlanEmulation(*cluster, 4e9);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 2u);
  // F16 is preferred; a device faster than the host is not sped up.
  EXPECT_DOUBLE_EQ((*plan)[0].device_bytes_per_s, 8e9);
  EXPECT_DOUBLE_EQ((*plan)[0].slowdown, 1);
  EXPECT_DOUBLE_EQ((*plan)[1].slowdown, 4);
  EXPECT_EQ((*plan)[0].memory_budget_bytes, 1000);
  EXPECT_EQ((*plan)[0].link, "3:200:2");  // fast -> slow: the default link
  EXPECT_EQ((*plan)[1].link, "1:1000:0");  // slow -> fast: the token return
  const std::vector<std::string> flags = (*plan)[1].Flags();
  EXPECT_EQ(flags, (std::vector<std::string>{
                       "--memory-budget", "2000", "--emulate-slowdown", "4",
                       "--emulate-link", "1:1000:0"}));
}

TEST(EmulationTest, KernelShapedLinksLeaveLatencyOrNothingInProcess) {
  auto cluster = ParseSimCluster(kCluster, "test");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto plan = PlanEmulation(*cluster, 4e9);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const WorkerEmulation& w = (*plan)[0];
  EXPECT_DOUBLE_EQ(w.egress.bandwidth_bytes_per_s, 25e6);
  EXPECT_EQ(w.Flags(InProcessLink::kLatencyOnly),
            (std::vector<std::string>{"--memory-budget", "1000",
                                      "--emulate-slowdown", "1",
                                      "--emulate-link", "3:0:2"}));
  EXPECT_EQ(w.Flags(InProcessLink::kNone),
            (std::vector<std::string>{"--memory-budget", "1000",
                                      "--emulate-slowdown", "1"}));
}

TEST(EmulationTest, RejectsABadHostSpeed) {
  auto cluster = ParseSimCluster(kCluster, "test");
  ASSERT_TRUE(cluster.ok());
  EXPECT_FALSE(PlanEmulation(*cluster, 0).ok());
}

TEST(EmulationTest, HostMeasurementIsPositive) {
  EXPECT_GT(MeasureHostBytesPerSecond(), 0);
}

}  // namespace
}  // namespace tessera::sim
