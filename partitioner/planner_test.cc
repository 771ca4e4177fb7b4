// Behaviour of the planner on realistic model shapes and small clusters.
#include "partitioner/planner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioner/test_util.h"

namespace tessera::partitioner {
namespace {

using ::testing::HasSubstr;
using model::GgmlType;
using testing::ShapeProblem;
using testing::SharedNetwork;
using testing::SimpleDevice;

Cluster LaptopAndPhones() {
  return SharedNetwork({SimpleDevice("phone-1", 6, 25, 200, 1.0),
                        SimpleDevice("laptop", 12, 60, 500, 0.5),
                        SimpleDevice("phone-2", 6, 25, 200, 1.0)},
                       /*latency_ms=*/5, /*mbit_s=*/200);
}

int CountFormat(const Plan& plan, GgmlType format) {
  int n = 0;
  for (const Stage& s : plan.stages) {
    for (GgmlType f : s.formats) n += f == format;
  }
  return n;
}

TEST(PlannerTest, SmallModelOverWifiStaysOnTheFastestDevice) {
  auto plan = SolvePlan(ShapeProblem("tinyllama-1.1b", LaptopAndPhones()));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->stages.size(), 1u);
  EXPECT_EQ(plan->stages[0].device, 1);
  EXPECT_TRUE(plan->stages[0].holds_embedding && plan->stages[0].holds_head);
  EXPECT_TRUE(plan->optimal);
  EXPECT_DOUBLE_EQ(plan->lower_bound, plan->predictions.objective);
}

TEST(PlannerTest, ModelLargerThanAnyDeviceIsSplitWithinBudgets) {
  std::vector<DeviceProfile> pis;
  for (int i = 0; i < 4; ++i) {
    pis.push_back(SimpleDevice("pi-" + std::to_string(i), 3, 9, 30, 1.0));
  }
  Problem p = ShapeProblem("llama-3-8b", SharedNetwork(pis, 0.3, 940));
  auto plan = SolvePlan(p);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_GE(plan->stages.size(), 2u);
  EXPECT_TRUE(plan->predictions.fits);
  for (const Stage& s : plan->stages) {
    EXPECT_LE(plan->predictions.memory_bytes[s.device],
              p.cluster.devices[s.device].memory_budget_bytes);
  }
  EXPECT_TRUE(plan->optimal);  // 4 identical devices: one class, exhaustive
}

TEST(PlannerTest, FitsNowhereSaysHowManyBytesAreMissing) {
  Problem p = ShapeProblem("llama-3-70b", LaptopAndPhones());
  auto plan = SolvePlan(p);
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted);
  std::string msg(plan.status().message());
  EXPECT_THAT(msg, HasSubstr("fits nowhere"));
  EXPECT_THAT(msg, HasSubstr("missing"));
  EXPECT_THAT(msg, HasSubstr("more device memory"));
}

TEST(PlannerTest, SmallerKvCacheIsSuggestedWhenItWouldFit) {
  // tinyllama fits the laptop alone, but not with the KV of 600 requests.
  Problem p = ShapeProblem("tinyllama-1.1b", LaptopAndPhones(),
                           Workload{1024, 1024, 600, ActivationCodec::kF16});
  auto plan = SolvePlan(p);
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted)
      << plan.status();
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("KV cache"));
}

TEST(PlannerTest, QualityBudgetKeepsLayersInBetterFormats) {
  Problem p = ShapeProblem("tinyllama-1.1b", LaptopAndPhones());
  auto free_plan = SolvePlan(p);
  ASSERT_TRUE(free_plan.ok());
  EXPECT_EQ(CountFormat(*free_plan, GgmlType::kQ4_0), 22);  // smallest = fastest
  p.quality_budget = *UniformQualityCost(p.quality, GgmlType::kQ8_0);
  auto strict = SolvePlan(p);
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(CountFormat(*strict, GgmlType::kQ4_0), 0);
  EXPECT_LE(strict->predictions.quality_cost, p.quality_budget);
  EXPECT_GT(strict->predictions.objective, free_plan->predictions.objective);
  // Halfway between: some layers in q4_0, the rest better.
  p.quality_budget = (*UniformQualityCost(p.quality, GgmlType::kQ8_0) +
                      *UniformQualityCost(p.quality, GgmlType::kQ4_0)) / 2;
  auto mixed = SolvePlan(p);
  ASSERT_TRUE(mixed.ok());
  EXPECT_GT(CountFormat(*mixed, GgmlType::kQ4_0), 0);
  EXPECT_LT(CountFormat(*mixed, GgmlType::kQ4_0), 22);
}

TEST(PlannerTest, QualityBudgetTooStrictForMemorySaysSo) {
  std::vector<DeviceProfile> small = {SimpleDevice("a", 0.45, 10, 50),
                                      SimpleDevice("b", 0.45, 10, 50)};
  Problem p = ShapeProblem("tinyllama-1.1b", SharedNetwork(small, 1, 1000));
  p.quality_budget = *UniformQualityCost(p.quality, GgmlType::kF16);
  auto plan = SolvePlan(p);
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted)
      << plan.status();
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("raise the quality budget"));
}

TEST(PlannerTest, WorkloadLongerThanTheContextIsRejected) {
  Problem p = ShapeProblem("tinyllama-1.1b", LaptopAndPhones(),
                           Workload{2000, 100, 1, ActivationCodec::kF16});
  auto plan = SolvePlan(p);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("context length 2048"));
}

TEST(PlannerTest, InvalidProfilesAreRejectedNamingTheField) {
  Cluster c = LaptopAndPhones();
  c.devices[2].perf[GgmlType::kQ8_0].decode_bytes_per_s = 0;
  auto plan = SolvePlan(ShapeProblem("tinyllama-1.1b", c));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("devices[2] (phone-2).perf[q8_0].decode_bytes_per_s"));
  c = LaptopAndPhones();
  c.links.push_back({"laptop", "tablet", 1, 1e6});
  plan = SolvePlan(ShapeProblem("tinyllama-1.1b", c));
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("links[0].to: unknown device 'tablet'"));
}

TEST(PlannerTest, ThroughputWithManyRequestsPipelines) {
  std::vector<DeviceProfile> pis;
  for (int i = 0; i < 4; ++i) {
    pis.push_back(SimpleDevice("pi-" + std::to_string(i), 6, 9, 30, 0.5));
  }
  Problem p = ShapeProblem("llama-3.2-1b", SharedNetwork(pis, 0.2, 940),
                           Workload{128, 128, 8, ActivationCodec::kF16});
  p.objective = Objective::kThroughput;
  auto plan = SolvePlan(p);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_GE(plan->stages.size(), 3u);
  p.objective = Objective::kLatency;
  auto latency = SolvePlan(p);
  ASSERT_TRUE(latency.ok());
  EXPECT_EQ(latency->stages.size(), 1u);  // links only add latency
  EXPECT_GT(plan->predictions.throughput_tokens_per_s,
            2.5 * latency->predictions.throughput_tokens_per_s);
}

TEST(PlannerTest, SlowQuantisedKernelsAreAvoided) {
  // A device whose q4_0 kernel is slow (dequantisation-bound) runs q8_0.
  DeviceProfile d = SimpleDevice("cpu", 8, 20, 100);
  d.perf[GgmlType::kQ4_0].decode_bytes_per_s = 5e9;
  auto plan = SolvePlan(ShapeProblem("tinyllama-1.1b", SharedNetwork({d}, 1, 100)));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(CountFormat(*plan, GgmlType::kQ8_0), 22);
}

TEST(PlannerTest, PlanIsNeverWorseThanTheBaselines) {
  for (Objective objective : {Objective::kLatency, Objective::kThroughput,
                              Objective::kMix}) {
    Problem p = ShapeProblem("llama-3.2-3b", LaptopAndPhones(),
                             Workload{256, 64, 4, ActivationCodec::kF16});
    p.objective = objective;
    p.quality_budget = *UniformQualityCost(p.quality, GgmlType::kQ8_0) * 3;
    auto report = PlanWithBaselines(p);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->baselines.size(), 3u);
    for (const Plan& b : report->baselines) {
      if (!b.predictions.fits) continue;
      EXPECT_LE(report->plan.predictions.objective,
                b.predictions.objective * (1 + 1e-9))
          << b.method << " objective " << ObjectiveName(objective);
    }
  }
}

}  // namespace
}  // namespace tessera::partitioner
