#include "partitioner/quality.h"

#include <cmath>

#include "gtest/gtest.h"
#include "model/model_shapes.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

CostTable Costs(const char* shape, std::vector<GgmlType> formats) {
  CostOptions options;
  options.formats = std::move(formats);
  auto t = BuildCostTable(model::FindShape(shape)->config, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(QualityTest, RoundTripErrorOrdersFormats) {
  std::vector<float> values(32 * 64);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = std::sin(0.37f * i) * (1 + (i % 7));
  }
  double f32 = *RoundTripError(values, 64, GgmlType::kF32, GgmlType::kF16);
  double f16 = *RoundTripError(values, 64, GgmlType::kF16, GgmlType::kF16);
  double q8 = *RoundTripError(values, 64, GgmlType::kQ8_0, GgmlType::kF16);
  double q4 = *RoundTripError(values, 64, GgmlType::kQ4_0, GgmlType::kF16);
  EXPECT_EQ(f32, 0.0);
  EXPECT_GT(f16, 0.0);
  EXPECT_LT(f16, q8);
  EXPECT_LT(q8, q4);
  EXPECT_LT(q4, 0.05);  // 4-bit blocks keep the signal
  // A width that does not fit the block size goes through the fallback.
  std::vector<float> narrow(values.begin(), values.begin() + 20 * 10);
  EXPECT_EQ(*RoundTripError(narrow, 10, GgmlType::kQ4_0, GgmlType::kF32), 0.0);
  EXPECT_FALSE(RoundTripError(narrow, 7, GgmlType::kQ4_0, GgmlType::kF32).ok());
}

TEST(QualityTest, GaussianProxyIsDeterministicAndOrdered) {
  model::ModelConfig config = model::FindShape("tinyllama-1.1b")->config;
  CostTable costs = Costs("tinyllama-1.1b",
                          {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0});
  auto a = GaussianProxy(config, costs, GgmlType::kF16);
  auto b = GaussianProxy(config, costs, GgmlType::kF16);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->cost, b->cost);
  ASSERT_EQ(a->cost.size(), 22u);
  EXPECT_LT(a->cost[0][0], a->cost[0][1]);
  EXPECT_LT(a->cost[0][1], a->cost[0][2]);
  // Q4_0 on Gaussian blocks: about 1% relative squared error.
  EXPECT_GT(a->cost[0][2], 0.003);
  EXPECT_LT(a->cost[0][2], 0.03);
  EXPECT_TRUE(ValidateQuality(*a, costs).ok());
}

TEST(QualityTest, UnquantisableMatricesLowerTheProxy) {
  // stories260k's ffn_down (172 wide) stays f16 in q4_0, so its layers lose
  // less than a shape whose every matrix is quantised.
  model::ModelConfig small = model::FindShape("stories260k")->config;
  CostTable costs = Costs("stories260k", {GgmlType::kQ4_0});
  model::ModelConfig big = model::FindShape("tinyllama-1.1b")->config;
  CostTable big_costs = Costs("tinyllama-1.1b", {GgmlType::kQ4_0});
  double s = GaussianProxy(small, costs, GgmlType::kF16)->cost[0][0];
  double b = GaussianProxy(big, big_costs, GgmlType::kF16)->cost[0][0];
  EXPECT_LT(s, b * 0.9);
}

TEST(QualityTest, WeightProxyAggregatesMatrices) {
  CostTable costs = Costs("stories260k", {GgmlType::kQ8_0, GgmlType::kQ4_0});
  std::vector<std::vector<MatrixSample>> layers(costs.n_layers);
  for (auto& layer : layers) {
    MatrixSample m;
    m.cols = 64;
    for (int i = 0; i < 64 * 8; ++i) m.values.push_back(std::cos(0.1f * i));
    layer.push_back(m);
  }
  auto q = WeightProxy(costs, layers, GgmlType::kF16);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->source, "weight-proxy");
  EXPECT_LT(q->cost[0][0], q->cost[0][1]);
  layers.pop_back();
  EXPECT_FALSE(WeightProxy(costs, layers, GgmlType::kF16).ok());
}

TEST(QualityTest, AlignAndValidate) {
  CostTable costs = Costs("stories260k", {GgmlType::kQ4_0, GgmlType::kF16});
  QualityTable q{"calibration-kl", {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}, {}};
  for (int l = 0; l < costs.n_layers; ++l) q.cost.push_back({0.0, 0.1, 0.5 + l});
  auto aligned = AlignQuality(q, costs);
  ASSERT_TRUE(aligned.ok()) << aligned.status();
  EXPECT_EQ(aligned->cost[2][0], 2.5);  // q4_0 column first now
  EXPECT_EQ(aligned->cost[2][1], 0.0);
  EXPECT_DOUBLE_EQ(*UniformQualityCost(*aligned, GgmlType::kQ4_0),
                   0.5 + 1.5 + 2.5 + 3.5 + 4.5);
  q.cost[1][2] = -1;
  EXPECT_FALSE(AlignQuality(q, costs).ok());
  q.formats = {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kF32};
  EXPECT_FALSE(AlignQuality(q, costs).ok());  // no q4_0 column
}

}  // namespace
}  // namespace tessera::partitioner
