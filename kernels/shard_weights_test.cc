#include "kernels/shard_weights.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/synthetic_weights.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

model::ModelConfig SmallConfig(int64_t ffn) {
  model::ModelConfig c;
  c.n_layers = 3;
  c.dim = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.rope_dim = 16;
  c.ffn_dim = ffn;
  c.vocab_size = 50;
  c.context_length = 128;
  return c;
}

std::unique_ptr<SyntheticModel> Make(const model::ModelConfig& c,
                                     GgmlType type) {
  SyntheticOptions options;
  options.matrix_type = type;
  options.embedding_type = type;
  auto m = MakeSyntheticModel(c, options, nullptr);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

ShardSpec Spec(int64_t first, int64_t end, GgmlType format) {
  ShardSpec spec;
  spec.first_layer = first;
  spec.end_layer = end;
  spec.layer_formats.assign(std::max<int64_t>(0, end - first), format);
  spec.head_format = format;
  return spec;
}

TEST(ShardWeightsTest, ValidateRejectsBadSpecs) {
  const model::ModelConfig c = SmallConfig(96);
  EXPECT_TRUE(ValidateShardSpec(c, Spec(0, 3, GgmlType::kQ8_0)).ok());
  EXPECT_FALSE(ValidateShardSpec(c, Spec(2, 4, GgmlType::kF32)).ok());
  EXPECT_FALSE(ValidateShardSpec(c, Spec(-1, 1, GgmlType::kF32)).ok());
  EXPECT_FALSE(ValidateShardSpec(c, Spec(0, 0, GgmlType::kF32)).ok());  // empty
  EXPECT_FALSE(ValidateShardSpec(c, Spec(0, 1, GgmlType::kQ4_K)).ok());
  ShardSpec wrong_count = Spec(0, 2, GgmlType::kF32);
  wrong_count.layer_formats.pop_back();
  EXPECT_FALSE(ValidateShardSpec(c, wrong_count).ok());
  ShardSpec embedding = Spec(1, 2, GgmlType::kF32);
  embedding.has_embedding = true;
  EXPECT_FALSE(ValidateShardSpec(c, embedding).ok());
  ShardSpec head = Spec(1, 2, GgmlType::kF32);
  head.has_head = true;
  EXPECT_FALSE(ValidateShardSpec(c, head).ok());
  head.end_layer = 3;
  head.layer_formats.push_back(GgmlType::kF32);
  head.head_format = GgmlType::kQ5_0;
  EXPECT_FALSE(ValidateShardSpec(c, head).ok());
  head.head_format = GgmlType::kQ4_0;
  EXPECT_TRUE(ValidateShardSpec(c, head).ok());
}

TEST(ShardWeightsTest, RowsThatDoNotFitBlocksStayInF16WithANote) {
  auto m = Make(SmallConfig(72), GgmlType::kF32);  // ffn_down rows of 72
  auto s =
      PrepareShardWeights(m->weights, Spec(0, 3, GgmlType::kQ4_0), nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->layers.size(), 3u);
  for (const ExecLayer& l : s->layers) {
    EXPECT_EQ(l.wq.format, GgmlType::kQ4_0);
    EXPECT_EQ(l.w_gate.format, GgmlType::kQ4_0);  // rows of 64 fit
    EXPECT_EQ(l.w_down.format, GgmlType::kF16);
    EXPECT_FALSE(l.w_down.in_place);
  }
  ASSERT_EQ(s->notes.size(), 3u);
  EXPECT_NE(s->notes[0].find("blk.0.ffn_down.weight kept in f16"),
            std::string::npos)
      << s->notes[0];
  auto f32 =
      PrepareShardWeights(m->weights, Spec(0, 3, GgmlType::kF32), nullptr);
  ASSERT_TRUE(f32.ok());
  EXPECT_TRUE(f32->notes.empty());
  EXPECT_EQ(f32->layers[0].w_down.format, GgmlType::kF32);
  EXPECT_TRUE(f32->layers[0].w_down.in_place);
}

TEST(ShardWeightsTest, MatricesInTheirFormatAreUsedInPlace) {
  auto m = Make(SmallConfig(96), GgmlType::kQ8_0);
  ShardSpec spec = Spec(0, 3, GgmlType::kQ8_0);
  spec.has_embedding = spec.has_head = true;
  auto s = PrepareShardWeights(m->weights, spec, nullptr);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->layers[1].wk.in_place);
  EXPECT_EQ(s->layers[1].wk.data, m->weights.layers[1].wk.data);
  EXPECT_TRUE(s->output.in_place);
  EXPECT_EQ(s->converted_bytes, 0);
  EXPECT_GE(s->weight_bytes, m->bytes);  // + F32 norm vectors
  EXPECT_LT(s->weight_bytes, m->bytes + 4096);
}

TEST(ShardWeightsTest, ConversionKeepsValuesWithinTheFormatsPrecision) {
  auto m = Make(SmallConfig(96), GgmlType::kQ8_0);
  ThreadPool pool(2);
  for (GgmlType to : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ4_0}) {
    auto converted = ConvertMatrix(m->weights.layers[0].w_up, to, &pool);
    ASSERT_TRUE(converted.ok()) << converted.status();
    EXPECT_FALSE(converted->in_place);
    EXPECT_EQ(converted->data, converted->storage.data());
    EXPECT_EQ(converted->bytes, *model::RowBytes(to, 64) * 96);
    auto want = m->weights.layers[0].w_up.ToFloat();
    std::vector<float> got(want->size());
    ASSERT_TRUE(
        model::Dequantize(to, converted->data, got.data(), got.size()).ok());
    const double tolerance =
        to == GgmlType::kQ4_0 ? 0.02 : 1e-4;  // stddev 0.02
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], (*want)[i], tolerance);
    ExecMatrix moved = std::move(*converted);
    EXPECT_EQ(moved.data, moved.storage.data());  // the pointer survives moves
  }
}

TEST(ShardWeightsTest, InconsistentViewsAreRejected) {
  auto m = Make(SmallConfig(96), GgmlType::kF32);
  model::TensorView view = m->weights.layers[0].wq;
  view.bytes -= 4;
  EXPECT_EQ(ConvertMatrix(view, GgmlType::kQ8_0, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  view = m->weights.layers[0].wq;
  view.data = nullptr;
  EXPECT_FALSE(ConvertMatrix(view, GgmlType::kQ8_0, nullptr).ok());
  EXPECT_FALSE(
      ConvertMatrix(m->weights.layers[0].wq, GgmlType::kQ6_K, nullptr).ok());
  model::ModelWeights broken = m->weights;
  broken.layers[1].wv.rows = 5;
  EXPECT_FALSE(
      PrepareShardWeights(broken, Spec(0, 3, GgmlType::kF32), nullptr).ok());
}

TEST(ShardWeightsTest, EmbedRowsDequantisesAndChecksIds) {
  auto m = Make(SmallConfig(96), GgmlType::kQ8_0);
  std::vector<float> out(2 * 64);
  ASSERT_TRUE(EmbedRows(m->weights.token_embd, {3, 49}, out.data()).ok());
  auto table = m->weights.token_embd.ToFloat();
  EXPECT_TRUE(
      std::equal(out.begin(), out.begin() + 64, table->begin() + 3 * 64));
  EXPECT_TRUE(
      std::equal(out.begin() + 64, out.end(), table->begin() + 49 * 64));
  EXPECT_EQ(EmbedRows(m->weights.token_embd, {50}, out.data()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EmbedRows(m->weights.token_embd, {-1}, out.data()).ok());
}

}  // namespace
}  // namespace tessera::kernels
