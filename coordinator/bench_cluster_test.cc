#include "coordinator/bench_cluster.h"

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/model_file.h"

namespace tessera::coordinator {
namespace {

v1::StageStats Stage(double compute_ms, double codec_ms, int64_t wire_bytes) {
  v1::StageStats s;
  s.set_compute_ms_per_token(compute_ms);
  s.set_codec_ms_per_token(codec_ms);
  s.set_wire_bytes(wire_bytes);
  return s;
}

TEST(GenerateResultTest, DecodeStepsExcludeThePrefillToken) {
  GenerateResult r;
  r.generated_tokens = 32;
  r.finish_reason = v1::FINISH_REASON_LENGTH;
  EXPECT_EQ(r.decode_steps(), 31);
}

TEST(GenerateResultTest, EndOfGenerationTokenIsADecodeStep) {
  GenerateResult r;
  r.generated_tokens = 5;
  r.finish_reason = v1::FINISH_REASON_END_OF_GENERATION;
  EXPECT_EQ(r.decode_steps(), 5);
  r.generated_tokens = 0;
  EXPECT_EQ(r.decode_steps(), 0);
}

TEST(GenerateResultTest, WireBytesPerTokenSumsStages) {
  GenerateResult r;
  r.generated_tokens = 11;
  r.finish_reason = v1::FINISH_REASON_LENGTH;
  r.stages = {Stage(1, 0.5, 8192 * 10), Stage(2, 0.25, 0)};
  EXPECT_DOUBLE_EQ(r.wire_bytes_per_token(), 8192);
  EXPECT_DOUBLE_EQ(r.stage_us_per_token(), 3000);
  EXPECT_DOUBLE_EQ(r.codec_us_per_token(), 750);
}

TEST(GenerateResultTest, StepOverheadIsTheTimeOutsideStages) {
  GenerateResult r;
  r.decode_tok_s = 200;  // 5000 us per step
  r.stages = {Stage(2, 0.5, 0), Stage(2, 0, 0)};
  EXPECT_DOUBLE_EQ(r.step_overhead_us(), 500);
  r.decode_tok_s = 0;
  EXPECT_DOUBLE_EQ(r.step_overhead_us(), 0);
  EXPECT_DOUBLE_EQ(GenerateResult().wire_bytes_per_token(), 0);
}

TEST(ConcurrentResultTest, AggregateIsTokensOverWallTime) {
  ConcurrentResult c;
  c.generated_tokens = 128;
  c.wall = absl::Seconds(4);
  EXPECT_DOUBLE_EQ(c.aggregate_tok_s(), 32);
  EXPECT_DOUBLE_EQ(ConcurrentResult().aggregate_tok_s(), 0);
}

class PromptOfTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::SharedPath("models/stories260K.gguf"));
    auto model =
        model::ModelFile::Open(testing::SharedPath("models/stories260K.gguf"));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
  }
  int64_t Count(const std::string& text) const {
    const model::Tokenizer& tok = *model_->tokenizer;
    return static_cast<int64_t>(tok.Encode(text, tok.add_bos_default()).size());
  }
  std::unique_ptr<model::ModelFile> model_;
};

TEST_F(PromptOfTokensTest, HitsTheRequestedLength) {
  for (int64_t tokens : {8, 16, 64, 300}) {
    auto prompt = PromptOfTokens(*model_->tokenizer, tokens, 7);
    ASSERT_TRUE(prompt.ok()) << prompt.status();
    EXPECT_EQ(Count(*prompt), tokens) << *prompt;
  }
}

TEST_F(PromptOfTokensTest, DeterministicPerSeedAndDifferentAcrossSeeds) {
  auto a = PromptOfTokens(*model_->tokenizer, 32, 1);
  auto b = PromptOfTokens(*model_->tokenizer, 32, 1);
  auto c = PromptOfTokens(*model_->tokenizer, 32, 2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST_F(PromptOfTokensTest, RejectsTooShortLengths) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      PromptOfTokens(*model_->tokenizer, 1, 1).status()));
  // Whether BOS plus one word fits in 2 tokens depends on the vocabulary;
  // a prompt is never longer than requested.
  auto two = PromptOfTokens(*model_->tokenizer, 2, 1);
  if (two.ok()) {
    EXPECT_LE(Count(*two), 2);
  } else {
    EXPECT_TRUE(absl::IsInvalidArgument(two.status())) << two.status();
  }
}

}  // namespace
}  // namespace tessera::coordinator
