#include "sim/plan_report.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

v1::StageStatus Stage(const std::string& name, int first, int end) {
  v1::StageStatus s;
  s.set_worker_name(name);
  s.set_address("10.64.1.10:4000");
  s.set_first_layer(first);
  s.set_end_layer(end);
  for (int i = first; i < end; ++i) s.add_layer_formats(v1::TENSOR_FORMAT_F32);
  return s;
}

TEST(PlanReportTest, OneDeviceTakingEverythingNamesTheIdleOnes) {
  v1::ClusterStatusResponse status;
  status.set_planner("partitioner (exhaustive search)");
  v1::StageStatus s = Stage("pixel-7", 0, 5);
  s.set_has_embedding(true);
  s.set_has_head(true);
  *status.add_stages() = s;
  const std::string text = FormatPlan(status, {"jetson", "pixel-7", "a14"});
  EXPECT_TRUE(absl::StartsWith(
      text,
      "plan (planner: partitioner (exhaustive search)): 1 stage on 1 "
      "of 3 devices\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "layers 0-4 (+embedding +head)"));
  EXPECT_TRUE(absl::StrContains(text, "f32"));
  EXPECT_TRUE(absl::StrContains(text, "no layers: jetson, a14\n")) << text;
}

TEST(PlanReportTest, EveryStageOnItsOwnLine) {
  v1::ClusterStatusResponse status;
  status.set_planner("even split");
  *status.add_stages() = Stage("a", 0, 3);
  *status.add_stages() = Stage("b", 3, 5);
  status.mutable_stages(1)->set_layer_formats(0, v1::TENSOR_FORMAT_Q8_0);
  const std::string text = FormatPlan(status, {"a", "b"});
  EXPECT_TRUE(absl::StrContains(text, "2 stages on 2 of 2 devices")) << text;
  EXPECT_TRUE(absl::StrContains(text, "stage 1  a "));
  EXPECT_TRUE(absl::StrContains(text, "layers 3-4"));
  EXPECT_TRUE(absl::StrContains(text, "q8_0,f32")) << text;
  EXPECT_FALSE(absl::StrContains(text, "no layers"));
}

}  // namespace
}  // namespace tessera::sim
