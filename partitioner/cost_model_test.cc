#include "partitioner/cost_model.h"

#include "gtest/gtest.h"
#include "model/model_shapes.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

model::ModelConfig Shape(const char* name) {
  auto shape = model::FindShape(name);
  EXPECT_TRUE(shape.ok()) << shape.status();
  return shape->config;
}

TEST(CostModelTest, TinyLlamaLayerBytesAreExact) {
  auto t = BuildCostTable(Shape("tinyllama-1.1b"));
  ASSERT_TRUE(t.ok()) << t.status();
  // 2 x 2048^2 (q, o) + 2 x 256 x 2048 (k, v) + 3 x 5632 x 2048 (ffn).
  const int64_t params = 44040192;
  const int64_t norms = 2 * 2048 * 4;
  ASSERT_EQ(t->formats.size(), 3u);
  EXPECT_EQ(t->layer_weight_bytes[0][t->FormatIndex(GgmlType::kF16)],
            params * 2 + norms);
  EXPECT_EQ(t->layer_weight_bytes[0][t->FormatIndex(GgmlType::kQ8_0)],
            params / 32 * 34 + norms);
  EXPECT_EQ(t->layer_weight_bytes[21][t->FormatIndex(GgmlType::kQ4_0)],
            params / 32 * 18 + norms);
  EXPECT_DOUBLE_EQ(t->layer_flops_per_token[0], 2.0 * params);
  EXPECT_EQ(t->kv_bytes_per_token, 2 * 256 * 2);  // K and V, 4 kv heads x 64, f16
  EXPECT_EQ(t->n_layers, 22);
}

TEST(CostModelTest, EmbeddingHeadAndActivations) {
  auto t = BuildCostTable(Shape("tinyllama-1.1b"));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->tied_embeddings);
  EXPECT_EQ(t->embedding_bytes, 32000LL * 2048 / 32 * 34);  // q8_0 by default
  EXPECT_EQ(t->head_bytes, 32000LL * 2048 / 32 * 34 + 2048 * 4);
  EXPECT_DOUBLE_EQ(t->head_flops_per_token, 2.0 * 32000 * 2048);
  EXPECT_EQ(t->activation_bytes_per_token[static_cast<int>(ActivationCodec::kF32)],
            2048 * 4);
  EXPECT_EQ(t->activation_bytes_per_token[static_cast<int>(ActivationCodec::kF16)],
            2048 * 2);
  EXPECT_EQ(t->activation_bytes_per_token[static_cast<int>(ActivationCodec::kQ8_0)],
            2048 / 32 * 34);
}

TEST(CostModelTest, RowsThatDoNotFitABlockFormatFallBack) {
  // stories260k: ffn_down rows are 172 wide, not a multiple of 32.
  CostOptions options;
  options.formats = {GgmlType::kF32, GgmlType::kQ8_0, GgmlType::kQ4_0};
  auto t = BuildCostTable(Shape("stories260k"), options);
  ASSERT_TRUE(t.ok()) << t.status();
  const int64_t blocked = 64 * 64 * 2 + 32 * 64 * 2 + 172 * 64 * 2;  // 64-wide rows
  const int64_t down_f16 = 64 * 172 * 2;
  const int64_t norms = 2 * 64 * 4;
  EXPECT_EQ(t->layer_weight_bytes[0][1], blocked / 32 * 34 + down_f16 + norms);
  EXPECT_EQ(t->layer_weight_bytes[0][2], blocked / 32 * 18 + down_f16 + norms);
  EXPECT_EQ(t->layer_weight_bytes[0][0], (blocked + 64 * 172) * 4 + norms);
  // Tied embeddings: the head is a copy of token_embd (dim 64 fits q8_0).
  EXPECT_TRUE(t->tied_embeddings);
  EXPECT_EQ(t->head_bytes, t->embedding_bytes + 64 * 4);
}

TEST(CostModelTest, Qwen2BiasesAreCounted) {
  auto t = BuildCostTable(Shape("qwen2.5-0.5b"));
  ASSERT_TRUE(t.ok());
  const int64_t dim = 896, kv = 128, ffn = 4864;
  const int64_t params = 2 * dim * dim + 2 * kv * dim + 3 * ffn * dim;
  const int64_t vectors = (2 * dim + dim + 2 * kv) * 4;
  EXPECT_EQ(t->layer_weight_bytes[0][t->FormatIndex(GgmlType::kF16)],
            params * 2 + vectors);
}

TEST(CostModelTest, RejectsBadOptions) {
  CostOptions options;
  options.formats = {};
  EXPECT_EQ(BuildCostTable(Shape("tinyllama-1.1b"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.formats = {GgmlType::kQ8_0, GgmlType::kQ8_0};
  EXPECT_EQ(BuildCostTable(Shape("tinyllama-1.1b"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.formats = {GgmlType::kQ4_K};
  EXPECT_EQ(BuildCostTable(Shape("tinyllama-1.1b"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  model::ModelConfig empty;
  EXPECT_EQ(BuildCostTable(empty).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::partitioner
