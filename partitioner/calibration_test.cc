#include "partitioner/calibration.h"

#include <cmath>
#include <memory>

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/tokenizer.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

TEST(KlDivergenceTest, ZeroForEqualAndShiftedLogits) {
  std::vector<float> a = {1.0f, 2.0f, -3.0f, 0.5f};
  std::vector<float> shifted = {11.0f, 12.0f, 7.0f, 10.5f};  // same softmax
  EXPECT_NEAR(KlDivergence(a, a), 0.0, 1e-12);
  EXPECT_NEAR(KlDivergence(a, shifted), 0.0, 1e-9);
}

TEST(KlDivergenceTest, MatchesTheDefinition) {
  // P = softmax(log 0.5, log 0.5) = (0.5, 0.5); Q = (0.9, 0.1).
  std::vector<float> p = {std::log(0.5f), std::log(0.5f)};
  std::vector<float> q = {std::log(0.9f), std::log(0.1f)};
  const double want = 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1);
  EXPECT_NEAR(KlDivergence(p, q), want, 1e-6);
  EXPECT_GT(KlDivergence(q, p), 0.0);
}

class CalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = testing::SharedPath("models/stories260K.gguf");
    TESSERA_REQUIRE_SHARED_FILE(path);
    auto file = model::GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = *std::move(file);
    auto config = model::ConfigFromGguf(*file_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto weights = model::LoadWeights(*file_, *config);
    ASSERT_TRUE(weights.ok()) << weights.status();
    weights_ = *std::move(weights);
    prompts_ = {{1, 403, 407, 261, 378}, {1, 92, 31, 417, 270, 296, 8, 100}};
  }

  std::unique_ptr<model::GgufFile> file_;
  model::ModelWeights weights_;
  Prompts prompts_;
};

TEST_F(CalibrationTest, SensitivityGrowsAsFormatsShrink) {
  auto s = Calibrate(weights_, prompts_,
                     {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->kl.size(), 5u);
  EXPECT_EQ(s->tokens, 13);
  double sum[4] = {0, 0, 0, 0}, var[4] = {0, 0, 0, 0};
  for (int l = 0; l < 5; ++l) {
    EXPECT_EQ(s->kl[l][0], 0.0);  // F32: the model itself
    for (int f = 0; f < 4; ++f) {
      EXPECT_GE(s->kl[l][f], 0.0);
      sum[f] += s->kl[l][f];
      var[f] += s->variance[l][f];
    }
  }
  EXPECT_LT(sum[1], sum[2]);
  EXPECT_LT(sum[2], sum[3]);
  EXPECT_GT(sum[3], 0.0);
  EXPECT_LT(var[1], var[2]);
  EXPECT_LT(var[2], var[3]);
  QualityTable q = QualityFromSensitivity(*s);
  EXPECT_EQ(q.source, "calibration-kl");
  EXPECT_EQ(q.cost[2][3], s->kl[2][3]);
}

TEST_F(CalibrationTest, CachedPrefixMatchesAFullQuantisedPass) {
  // Calibrate reuses the unquantised hidden states before the layer; a full
  // pass with only layer 2 in q4_0 must measure the same KL.
  auto s = Calibrate(weights_, prompts_, {GgmlType::kQ4_0});
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<GgmlType> formats(5, GgmlType::kF32);
  formats[2] = GgmlType::kQ4_0;
  auto full = MeasurePlanQuality(weights_, formats, prompts_);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_GT(full->mean_kl, 0.0);
  EXPECT_NEAR(s->kl[2][0], full->mean_kl, 1e-6 * full->mean_kl + 1e-12);
}

TEST_F(CalibrationTest, PlanQualityOfTheUnquantisedModelIsPerfect) {
  auto q = MeasurePlanQuality(weights_, std::vector<GgmlType>(5, GgmlType::kF32), prompts_);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_NEAR(q->mean_kl, 0.0, 1e-12);
  EXPECT_EQ(q->top1_agreement, 1.0);
  EXPECT_EQ(q->tokens, 13);
  auto q4 = MeasurePlanQuality(weights_, std::vector<GgmlType>(5, GgmlType::kQ4_0), prompts_);
  ASSERT_TRUE(q4.ok()) << q4.status();
  EXPECT_GT(q4->mean_kl, 0.0);
  EXPECT_LE(q4->top1_agreement, 1.0);
}

TEST_F(CalibrationTest, TokenizesPromptLines) {
  auto tokenizer = model::Tokenizer::FromGguf(*file_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto prompts = TokenizePrompts(**tokenizer, {"Once upon a time", "", "a b c d e f"}, 3);
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_EQ(prompts->size(), 2u);
  EXPECT_EQ((*prompts)[0].size(), 3u);
  EXPECT_FALSE(TokenizePrompts(**tokenizer, {"", ""}, 8).ok());
  EXPECT_FALSE(TokenizePrompts(**tokenizer, {"x"}, 0).ok());
  EXPECT_FALSE(DefaultCalibrationPrompts().empty());
}

TEST_F(CalibrationTest, RejectsBadPrompts) {
  EXPECT_FALSE(Calibrate(weights_, {}, {GgmlType::kQ8_0}).ok());
  EXPECT_FALSE(Calibrate(weights_, {{}}, {GgmlType::kQ8_0}).ok());
  EXPECT_FALSE(Calibrate(weights_, {{1, 99999}}, {GgmlType::kQ8_0}).ok());
  EXPECT_FALSE(MeasurePlanQuality(weights_, {GgmlType::kQ8_0}, prompts_).ok());
}

}  // namespace
}  // namespace tessera::partitioner
