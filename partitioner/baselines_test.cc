#include "partitioner/baselines.h"

#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "partitioner/report.h"
#include "partitioner/test_util.h"

namespace tessera::partitioner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using model::GgmlType;
using testing::ShapeProblem;
using testing::SharedNetwork;
using testing::SimpleDevice;

TEST(BaselinesTest, EvenCounts) {
  EXPECT_THAT(EvenCounts(22, 3), ElementsAre(8, 7, 7));
  EXPECT_THAT(EvenCounts(2, 3), ElementsAre(1, 1, 0));
}

TEST(BaselinesTest, ProportionalCountsUseLargestRemainders) {
  EXPECT_THAT(ProportionalCounts(22, {8, 8, 16}), ElementsAre(6, 5, 11));  // tie: first
  EXPECT_THAT(ProportionalCounts(10, {1, 1, 1}), ElementsAre(4, 3, 3));
  auto counts = ProportionalCounts(80, {3, 7, 11, 13});
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), 80);
}

TEST(BaselinesTest, StagesFromCountsSkipsEmptyDevices) {
  auto stages = StagesFromCounts({2, 0, 3}, GgmlType::kQ8_0);
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].device, 0);
  EXPECT_EQ(stages[1].device, 2);
  EXPECT_EQ(stages[1].first_layer, 2);
  EXPECT_EQ(stages[1].end_layer, 5);
  EXPECT_EQ(stages[1].formats.size(), 3u);
  EXPECT_TRUE(stages[0].holds_embedding && stages[1].holds_head);
}

Problem ThreeDevices() {
  return ShapeProblem("llama-3.2-3b",
                      SharedNetwork({SimpleDevice("a", 2, 20, 100),
                                     SimpleDevice("b", 2, 20, 100),
                                     SimpleDevice("c", 4, 40, 200)},
                                    2, 300));
}

TEST(BaselinesTest, SplitsPickTheBestFormatThatFitsTheBudgets) {
  Problem p = ThreeDevices();
  CostGrid g = CostGrid::Build(p);
  auto even = EvenSplitBaseline(p, g);
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_EQ(even->stages.size(), 3u);
  EXPECT_TRUE(even->predictions.fits);
  EXPECT_EQ(even->stages[0].formats[0], GgmlType::kQ4_0);  // fastest
  EXPECT_THAT(even->method, HasSubstr("even split (q4_0)"));
  // Under a q8_0 quality budget, q8_0 is the best that is allowed.
  p.quality_budget = *UniformQualityCost(p.quality, GgmlType::kQ8_0);
  even = EvenSplitBaseline(p, g);
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(even->stages[0].formats[0], GgmlType::kQ8_0);
  auto proportional = MemoryProportionalBaseline(p, g);
  ASSERT_TRUE(proportional.ok());
  EXPECT_EQ(proportional->stages[2].end_layer - proportional->stages[2].first_layer,
            14);  // half of 28 layers on the 4 GiB device
}

TEST(BaselinesTest, SplitThatFitsNoFormatIsReportedAsNotFitting) {
  Problem p = ThreeDevices();
  for (auto& d : p.cluster.devices) d.memory_budget_bytes /= 4;
  CostGrid g = CostGrid::Build(p);
  auto even = EvenSplitBaseline(p, g);
  ASSERT_TRUE(even.ok());
  EXPECT_FALSE(even->predictions.fits);
  EXPECT_EQ(even->stages[0].formats[0], GgmlType::kQ4_0);  // the smallest
}

TEST(BaselinesTest, UniformFormatUsesTheSearch) {
  Problem p = ThreeDevices();
  p.quality_budget = *UniformQualityCost(p.quality, GgmlType::kQ8_0);
  auto uniform = UniformFormatBaseline(p, SearchOptions{});
  ASSERT_TRUE(uniform.ok()) << uniform.status();
  for (const Stage& s : uniform->stages) {
    for (GgmlType f : s.formats) EXPECT_EQ(f, s.formats[0]);
  }
  EXPECT_LE(uniform->predictions.quality_cost, p.quality_budget);
}

TEST(ReportTest, TablesNameDevicesFormatsAndBaselines) {
  Problem p = ThreeDevices();
  auto report = PlanWithBaselines(p);
  ASSERT_TRUE(report.ok()) << report.status();
  std::string table = FormatPlanTable(p, report->plan);
  EXPECT_THAT(table, HasSubstr("stage"));
  EXPECT_THAT(table, HasSubstr("embedding"));
  EXPECT_THAT(table, HasSubstr("TTFT"));
  EXPECT_THAT(table, HasSubstr("proven optimal"));
  std::string comparison = FormatComparison(p, *report);
  EXPECT_THAT(comparison, HasSubstr("Tessera: "));
  EXPECT_THAT(comparison, HasSubstr("even split"));
  EXPECT_THAT(comparison, HasSubstr("memory-proportional split"));
  EXPECT_THAT(comparison, HasSubstr("uniform"));
  Stage s{0, 4, 9, {GgmlType::kQ4_0, GgmlType::kQ4_0, GgmlType::kQ8_0,
                    GgmlType::kQ8_0, GgmlType::kF16}};
  EXPECT_EQ(DescribeFormats(s), "4-5 q4_0, 6-7 q8_0, 8 f16");
}

}  // namespace
}  // namespace tessera::partitioner
