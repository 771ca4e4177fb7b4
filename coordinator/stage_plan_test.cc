#include "coordinator/stage_plan.h"

#include "gtest/gtest.h"

namespace tessera::coordinator {
namespace {

TEST(PlanEvenSplitTest, CoversEveryLayerOnceInOrder) {
  auto plan = PlanEvenSplit(5, 3, model::GgmlType::kF32);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->stages.size(), 3u);
  EXPECT_EQ(plan->stages[0].first_layer, 0);
  EXPECT_EQ(plan->stages[0].end_layer, 2);
  EXPECT_EQ(plan->stages[1].end_layer, 4);
  EXPECT_EQ(plan->stages[2].end_layer, 5);
  EXPECT_TRUE(plan->stages[0].has_embedding);
  EXPECT_FALSE(plan->stages[1].has_embedding || plan->stages[1].has_head);
  EXPECT_TRUE(plan->stages[2].has_head);
  EXPECT_EQ(plan->stages[1].formats.size(), 2u);
}

TEST(PlanEvenSplitTest, SingleWorkerHoldsEverything) {
  auto plan = PlanEvenSplit(4, 1, model::GgmlType::kQ8_0);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->stages[0].has_embedding && plan->stages[0].has_head);
  EXPECT_EQ(plan->stages[0].formats[3], model::GgmlType::kQ8_0);
}

TEST(PlanEvenSplitTest, RejectsImpossibleSplits) {
  EXPECT_FALSE(PlanEvenSplit(2, 3, model::GgmlType::kF32).ok());
  EXPECT_FALSE(PlanEvenSplit(2, 0, model::GgmlType::kF32).ok());
}

}  // namespace
}  // namespace tessera::coordinator

namespace tessera::coordinator {
namespace {

TEST(HeadFormatTest, QuantisedLayersGetQ8Head) {
  EXPECT_EQ(HeadFormatFor(model::GgmlType::kF32), model::GgmlType::kF32);
  EXPECT_EQ(HeadFormatFor(model::GgmlType::kF16), model::GgmlType::kF16);
  EXPECT_EQ(HeadFormatFor(model::GgmlType::kQ8_0), model::GgmlType::kQ8_0);
  EXPECT_EQ(HeadFormatFor(model::GgmlType::kQ4_0), model::GgmlType::kQ8_0);
}

}  // namespace
}  // namespace tessera::coordinator
