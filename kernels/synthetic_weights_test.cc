#include "kernels/synthetic_weights.h"

#include <cmath>
#include <cstring>

#include "gtest/gtest.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

model::ModelConfig Config(bool qwen) {
  model::ModelConfig c;
  c.arch = qwen ? model::Architecture::kQwen2 : model::Architecture::kLlama;
  c.qkv_bias = qwen;
  c.tied_embeddings = qwen;
  c.n_layers = 2;
  c.dim = 64;
  c.n_heads = 4;
  c.n_kv_heads = 1;
  c.head_dim = 16;
  c.rope_dim = 16;
  c.ffn_dim = 100;
  c.vocab_size = 40;
  return c;
}

TEST(SyntheticWeightsTest, ShapesTypesAndFallbacks) {
  SyntheticOptions options;
  options.matrix_type = GgmlType::kQ4_0;
  auto m = MakeSyntheticModel(Config(true), options, nullptr);
  ASSERT_TRUE(m.ok()) << m.status();
  const model::ModelWeights& w = (*m)->weights;
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_EQ(w.layers[0].wk.rows, 16);
  EXPECT_EQ(w.layers[0].wk.cols, 64);
  EXPECT_EQ(w.layers[0].wq.type, GgmlType::kQ4_0);
  EXPECT_EQ(w.layers[0].w_down.type, GgmlType::kF16);  // rows of 100
  EXPECT_EQ(w.layers[1].bk.cols, 16);
  EXPECT_EQ(w.output.data, w.token_embd.data);  // tied
  EXPECT_EQ(w.token_embd.type, GgmlType::kF32);
}

TEST(SyntheticWeightsTest, DeterministicAndIndependentOfThreads) {
  SyntheticOptions options;
  options.matrix_type = GgmlType::kQ8_0;
  options.seed = 5;
  auto a = MakeSyntheticModel(Config(false), options, nullptr);
  ThreadPool pool(2);
  auto b = MakeSyntheticModel(Config(false), options, &pool);
  ASSERT_TRUE(a.ok() && b.ok());
  const model::TensorView& x = (*a)->weights.layers[1].w_up;
  const model::TensorView& y = (*b)->weights.layers[1].w_up;
  ASSERT_EQ(x.bytes, y.bytes);
  EXPECT_EQ(std::memcmp(x.data, y.data, x.bytes), 0);
  options.seed = 6;
  auto c = MakeSyntheticModel(Config(false), options, nullptr);
  EXPECT_NE(std::memcmp(x.data, (*c)->weights.layers[1].w_up.data, x.bytes), 0);
}

TEST(SyntheticWeightsTest, ValuesHaveTheRequestedSpread) {
  SyntheticOptions options;
  options.stddev = 0.02f;
  auto m = MakeSyntheticModel(Config(false), options, nullptr);
  ASSERT_TRUE(m.ok());
  auto values = (*m)->weights.output.ToFloat();
  double sum = 0, squares = 0;
  for (float v : *values) {
    sum += v;
    squares += double(v) * v;
  }
  const double n = static_cast<double>(values->size());
  EXPECT_NEAR(sum / n, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(squares / n), 0.02, 0.001);
  auto norm = (*m)->weights.layers[0].attn_norm.ToFloat();
  EXPECT_NEAR((*norm)[0], 1.0, 0.3);
}

TEST(SyntheticWeightsTest, RejectsInconsistentConfigs) {
  model::ModelConfig c = Config(false);
  c.n_kv_heads = 3;
  EXPECT_FALSE(MakeSyntheticModel(c, {}, nullptr).ok());
  SyntheticOptions options;
  options.matrix_type = GgmlType::kQ6_K;
  EXPECT_FALSE(MakeSyntheticModel(Config(false), options, nullptr).ok());
}

}  // namespace
}  // namespace tessera::kernels
