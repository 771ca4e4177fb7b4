// The reference forward pass against the golden continuations: the numerical
// ground truth of the whole project.
#include "model/generation.h"

#include <cstring>

#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "model/model_file.h"
#include "model/reference_model.h"

namespace tessera::model {
namespace {

class ReferenceGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesGoldenPath());
    auto file = ModelFile::Open(testing::StoriesModelPath());
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = std::move(*file);
    auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
    ASSERT_TRUE(cases.ok()) << cases.status();
    cases_ = *cases;
    ASSERT_FALSE(cases_.empty());
    auto reference = ReferenceModel::Create(file_->weights);
    ASSERT_TRUE(reference.ok()) << reference.status();
    reference_ = std::move(*reference);
  }

  std::unique_ptr<ModelFile> file_;
  std::vector<testing::GoldenCase> cases_;
  std::unique_ptr<ReferenceModel> reference_;
};

TEST_F(ReferenceGoldenTest, ConfigMatchesProvenance) {
  const ModelConfig& c = file_->config;
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.ffn_dim, 172);
  EXPECT_EQ(c.vocab_size, 512);
  // The file stores output.weight as a copy of token_embd.weight.
  EXPECT_FALSE(c.tied_embeddings);
  ASSERT_EQ(file_->weights.output.bytes, file_->weights.token_embd.bytes);
  EXPECT_EQ(0, memcmp(file_->weights.output.data, file_->weights.token_embd.data,
                      file_->weights.output.bytes));
  EXPECT_FLOAT_EQ(c.rope_freq_base, 10000.0f);
}

TEST_F(ReferenceGoldenTest, GreedyContinuationsMatchGolden) {
  for (const testing::GoldenCase& golden : cases_) {
    std::vector<int32_t> ids = file_->tokenizer->Encode(golden.prompt, true);
    EXPECT_EQ(ids, golden.prompt_ids_with_bos) << golden.prompt;
    ReferenceLogitsModel engine(*reference_, 512);
    GenerationOptions options;
    options.max_new_tokens = golden.new_tokens;
    std::string streamed;
    auto result = Generate(engine, *file_->tokenizer, ids, options,
                           [&](absl::string_view t) { streamed.append(t.data(), t.size()); });
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->text, golden.continuation) << golden.prompt;
    EXPECT_EQ(streamed, golden.continuation);
  }
}

TEST_F(ReferenceGoldenTest, BatchedPrefillEqualsTokenByToken) {
  const std::vector<int32_t>& ids = cases_[0].prompt_ids_with_bos;
  auto all = reference_->NewSession(64);
  auto one = reference_->NewSession(64);
  auto batched = all->Forward(ids);
  ASSERT_TRUE(batched.ok());
  std::vector<float> last;
  for (int32_t id : ids) {
    auto logits = one->Forward({id});
    ASSERT_TRUE(logits.ok());
    last = *logits;
  }
  ASSERT_EQ(last.size(), batched->size());
  for (size_t i = 0; i < last.size(); ++i) {
    EXPECT_NEAR(last[i], (*batched)[i], 1e-4f);
  }
}

TEST_F(ReferenceGoldenTest, QuantisedLayersStayClose) {
  ReferenceOptions options;
  options.layer_formats.assign(file_->config.n_layers, GgmlType::kQ8_0);
  auto q8 = ReferenceModel::Create(file_->weights, options);
  ASSERT_TRUE(q8.ok()) << q8.status();
  const std::vector<int32_t>& ids = cases_[0].prompt_ids_with_bos;
  auto exact = reference_->NewSession(16)->Forward(ids);
  auto approx = (*q8)->NewSession(16)->Forward(ids);
  ASSERT_TRUE(exact.ok() && approx.ok());
  double err = 0, norm = 0;
  for (size_t i = 0; i < exact->size(); ++i) {
    err += ((*exact)[i] - (*approx)[i]) * ((*exact)[i] - (*approx)[i]);
    norm += (*exact)[i] * (*exact)[i];
  }
  EXPECT_GT(err, 0.0);          // the round trip changed something
  EXPECT_LT(err / norm, 1e-3);  // but not much
}

TEST_F(ReferenceGoldenTest, RejectsOverflowAndBadTokens) {
  auto session = reference_->NewSession(4);
  EXPECT_EQ(session->Forward({1, 2, 3, 4, 5}).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(session->Forward({9999}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session->Forward({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReferenceGoldenTest, PromptLongerThanContextIsOutOfRange) {
  ReferenceLogitsModel engine(*reference_, 4);
  auto result = Generate(engine, *file_->tokenizer, {1, 2, 3, 4},
                         GenerationOptions{});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(ReferenceGoldenTest, GenerationStopsWhenContextIsFull) {
  ReferenceLogitsModel engine(*reference_, 8);
  GenerationOptions options;
  options.max_new_tokens = 100;
  options.stop_at_end_of_generation = false;
  auto result = Generate(engine, *file_->tokenizer, {1, 403, 407}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->tokens.size(), 6u);  // 3 prompt + 5 cached + 1 unrun
}

}  // namespace
}  // namespace tessera::model
