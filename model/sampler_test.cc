#include "model/sampler.h"

#include <cmath>
#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::model {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f};

TEST(SamplerTest, GreedyPicksArgmax) {
  Sampler sampler(SamplingParams{});
  EXPECT_EQ(sampler.Sample(kLogits), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.Sample(kLogits), b.Sample(kLogits));
}

TEST(SamplerTest, DifferentSeedsDiffer) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 1;
  Sampler a(p);
  p.seed = 2;
  Sampler b(p);
  int differences = 0;
  for (int i = 0; i < 50; ++i) differences += a.Sample(kLogits) != b.Sample(kLogits);
  EXPECT_GT(differences, 0);
}

TEST(SamplerTest, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  Sampler sampler(p);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sampler.Sample(kLogits), 1);
}

TEST(SamplerTest, TopKRestrictsToKBest) {
  SamplingParams p;
  p.temperature = 10.0f;
  p.top_k = 2;
  Sampler sampler(p);
  for (int i = 0; i < 200; ++i) {
    int32_t t = sampler.Sample(kLogits);
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // Probabilities at T=1: token 0 dominates with ~0.87.
  const std::vector<float> logits = {5.0f, 3.0f, 1.0f, 0.0f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  Sampler sampler(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sampler.Sample(logits), 0);
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  const std::vector<float> logits = {2.0f, 1.9f, -5.0f, -6.0f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;
  Sampler sampler(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 300; ++i) counts[sampler.Sample(logits)]++;
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
}

TEST(SamplerTest, RepetitionPenaltyChangesGreedyChoice) {
  SamplingParams p;
  p.repeat_penalty = 2.0f;
  Sampler sampler(p);
  sampler.Accept(1);  // 3.0 -> 1.5, so token 4 (2.9) wins
  EXPECT_EQ(sampler.Sample(kLogits), 4);
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  const std::vector<float> logits = {0.0f, std::log(3.0f)};  // 1:3
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  Sampler sampler(p);
  int ones = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) ones += sampler.Sample(logits) == 1;
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.03);
}

TEST(SamplerTest, ValidationNamesTheField) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_EQ(ValidateSamplingParams(p).code(),
            absl::StatusCode::kInvalidArgument);
  p = SamplingParams{};
  p.top_p = 0;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top-p"),
            std::string::npos);
  p = SamplingParams{};
  p.min_p = 1;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = SamplingParams{};
  p.repeat_penalty = 0;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}).ok());
}

}  // namespace
}  // namespace tessera::model
