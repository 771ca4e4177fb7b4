// CPU-backend specifics beyond the conformance suite: backend selection,
// ISA and thread-count independence, qwen2 features (biases, NeoX RoPE,
// tied embeddings, wide GQA groups), F16 KV caches, long batches.
#include "kernels/cpu_backend.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/conformance_util.h"
#include "kernels/synthetic_weights.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

model::ModelConfig QwenLikeConfig() {
  model::ModelConfig c;
  c.arch = model::Architecture::kQwen2;
  c.arch_name = "qwen2";
  c.qkv_bias = true;
  c.tied_embeddings = true;
  c.n_layers = 2;
  c.dim = 128;
  c.n_heads = 8;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.rope_dim = 16;
  c.ffn_dim = 192;
  c.vocab_size = 96;
  c.context_length = 512;
  c.rope_freq_base = 1000000.0f;
  c.norm_eps = 1e-6f;
  return c;
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SyntheticOptions options;
    options.stddev = 0.1f;  // larger than real weights: stronger signals
    auto m = MakeSyntheticModel(QwenLikeConfig(), options, nullptr);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
  }

  std::unique_ptr<Backend> Load(GgmlType format, int threads = 2,
                                CpuBackendOptions cpu = {},
                                GgmlType kv_type = GgmlType::kF32) {
    BackendOptions options;
    options.threads = threads;
    options.kv_type = kv_type;
    auto backend = CreateCpuBackend(options, cpu);
    EXPECT_TRUE(backend.ok()) << backend.status();
    ShardSpec spec;
    spec.end_layer = 2;
    spec.has_embedding = spec.has_head = true;
    spec.layer_formats.assign(2, format);
    spec.head_format = format;
    EXPECT_TRUE((*backend)->LoadShard(model_->weights, spec).ok());
    return std::move(*backend);
  }

  // Logits of every row of a 40-token prompt.
  std::vector<float> AllLogits(Backend& backend) {
    Batch batch = TokenBatch(1, 0, Prompt(40));
    for (BatchRow& row : batch.rows) row.want_output = true;
    auto out = backend.Forward(batch);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->data : std::vector<float>();
  }

  static std::vector<int32_t> Prompt(int n) {
    std::vector<int32_t> tokens(n);
    for (int i = 0; i < n; ++i) tokens[i] = (i * 37 + 5) % 96;
    return tokens;
  }

  std::unique_ptr<SyntheticModel> model_;
};

TEST(CreateBackendTest, ParsesBackendNames) {
  BackendOptions options;
  auto cpu = CreateBackend("cpu", options);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_NE((*cpu)->Describe().find("cpu ("), std::string::npos);
  auto scalar = CreateBackend("cpu:scalar", options);
  ASSERT_TRUE(scalar.ok());
  EXPECT_NE((*scalar)->Describe().find("scalar"), std::string::npos);
  EXPECT_EQ(CreateBackend("cpu:sse9", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateBackend("gpu", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateBackend("opencl:a:b", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateBackend("cpu:a:b", options).status().code(),
            absl::StatusCode::kInvalidArgument);
#if defined(__x86_64__)
  EXPECT_EQ(CreateBackend("cpu:neon", options).status().code(),
            absl::StatusCode::kUnavailable);
#endif
  options.threads = 0;
  EXPECT_EQ(CreateBackend("cpu", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.threads = 1;
  options.kv_type = GgmlType::kQ8_0;
  EXPECT_EQ(CreateBackend("cpu", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKvType("f16").value(), GgmlType::kF16);
  EXPECT_EQ(ParseKvType("f32").value(), GgmlType::kF32);
  EXPECT_EQ(ParseKvType("q8_0").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CpuBackendTest, CallsOutOfOrderFailCleanly) {
  auto backend = CreateCpuBackend(BackendOptions{});
  ASSERT_TRUE(backend.ok());
  EXPECT_EQ((*backend)->Forward(TokenBatch(1, 0, {1})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*backend)->ReleaseSession(1).code(), absl::StatusCode::kNotFound);
  auto loaded = Load(GgmlType::kF32);
  ShardSpec spec;
  spec.end_layer = 2;
  spec.layer_formats.assign(2, GgmlType::kF32);
  EXPECT_EQ(loaded->LoadShard(model_->weights, spec).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CpuBackendTest, MatchesReferenceWithQwenFeatures) {
  for (GgmlType format :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    auto reference = RoundTripReference::Create(model_->weights, format);
    ASSERT_TRUE(reference.ok()) << reference.status();
    auto session = (*reference)->model().NewSession(512);
    auto want = session->ForwardAll(Prompt(40));
    ASSERT_TRUE(want.ok());
    auto backend = Load(format);
    EXPECT_LT(Nmse(AllLogits(*backend), *want), NmseLimit(format))
        << TypeName(format);
  }
}

TEST_F(CpuBackendTest, EveryIsaAndThreadCountAgrees) {
  for (GgmlType format : {GgmlType::kF32, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    auto best = Load(format, 2);
    const std::vector<float> want = AllLogits(*best);
    // Work splits differ, per-element arithmetic does not: bitwise equal.
    EXPECT_EQ(AllLogits(*Load(format, 1)), want) << TypeName(format);
    EXPECT_EQ(AllLogits(*Load(format, 3)), want) << TypeName(format);
    for (CpuIsa isa :
         {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvxVnni, CpuIsa::kAvx512Vnni,
          CpuIsa::kNeon, CpuIsa::kNeonDotProd}) {
      if (!IsaAvailable(isa)) continue;
      CpuBackendOptions cpu;
      cpu.isa = isa;
      EXPECT_LT(Nmse(AllLogits(*Load(format, 2, cpu)), want), 1e-9)
          << TypeName(format) << " " << IsaName(isa);
    }
  }
}

// Decode steps (one row each: the matvec kernels, which on AVX-512 read
// Q4_0 in the tile layout) on a model wide enough for whole tiles: dim 512
// (one full tile) and FFN 1280 (two full tiles and a partial one), against
// the reference with the same round-tripped weights.
TEST_F(CpuBackendTest, Q4_0DecodeStepsOnWholeTilesMatchTheReference) {
  model::ModelConfig c = QwenLikeConfig();
  c.dim = 512;
  c.n_heads = 8;
  c.head_dim = 64;
  c.rope_dim = 64;
  c.ffn_dim = 1280;
  SyntheticOptions options;
  options.stddev = 0.05f;
  auto m = MakeSyntheticModel(c, options, nullptr);
  ASSERT_TRUE(m.ok()) << m.status();
  auto reference = RoundTripReference::Create((*m)->weights, GgmlType::kQ4_0);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::vector<int32_t> tokens = Prompt(12);
  auto session = (*reference)->model().NewSession(512);
  auto want = session->ForwardAll(tokens);
  ASSERT_TRUE(want.ok());

  BackendOptions backend_options;
  backend_options.threads = 2;
  auto backend = CreateCpuBackend(backend_options, {});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ShardSpec spec;
  spec.end_layer = 2;
  spec.has_embedding = spec.has_head = true;
  spec.layer_formats.assign(2, GgmlType::kQ4_0);
  spec.head_format = GgmlType::kQ4_0;
  ASSERT_TRUE((*backend)->LoadShard((*m)->weights, spec).ok());
  ASSERT_TRUE(
      (*backend)
          ->Forward(TokenBatch(1, 0, {tokens.begin(), tokens.begin() + 4}))
          .ok());
  const int64_t vocab = c.vocab_size;
  std::vector<float> got, expected;
  for (int32_t p = 4; p < 12; ++p) {
    auto out = (*backend)->Forward(TokenBatch(1, p, {tokens[p]}));
    ASSERT_TRUE(out.ok()) << out.status();
    got.insert(got.end(), out->data.begin(), out->data.end());
    expected.insert(expected.end(), want->begin() + p * vocab,
                    want->begin() + (p + 1) * vocab);
  }
  EXPECT_LT(Nmse(got, expected), NmseLimit(GgmlType::kQ4_0));
}

TEST_F(CpuBackendTest, F16KvCacheStaysCloseToF32) {
  auto f16 = Load(GgmlType::kF32, 2, {}, GgmlType::kF16);
  EXPECT_NE(f16->Describe().find("f16 KV"), std::string::npos);
  const std::vector<float> got = AllLogits(*f16);
  EXPECT_LT(Nmse(got, AllLogits(*Load(GgmlType::kF32))), 1e-6);
  EXPECT_EQ(f16->memory().kv_bytes_reserved,
            KvCache::kPageTokens * 2 * 2 * 32 * 2);  // 1 page, 2 layers, K+V
}

TEST_F(CpuBackendTest, BatchesLongerThanOnePassMatchTheReference) {
  auto reference = RoundTripReference::Create(model_->weights, GgmlType::kQ8_0);
  ASSERT_TRUE(reference.ok());
  auto session = (*reference)->model().NewSession(512);
  const std::vector<int32_t> prompt = Prompt(CpuBackend::kMaxRowsPerPass + 50);
  auto want = session->ForwardAll(prompt);
  ASSERT_TRUE(want.ok());
  auto backend = Load(GgmlType::kQ8_0);
  Batch batch = TokenBatch(4, 0, prompt);
  for (BatchRow& row : batch.rows) row.want_output = true;
  auto out = backend->Forward(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->num_rows, static_cast<int64_t>(prompt.size()));
  EXPECT_LT(Nmse(out->data, *want), NmseLimit(GgmlType::kQ8_0));
  EXPECT_EQ(backend->SessionLength(4), static_cast<int64_t>(prompt.size()));
}

TEST_F(CpuBackendTest, MemoryAccountsWeightsKvAndScratch) {
  auto backend = Load(GgmlType::kQ8_0);
  MemoryUsage before = backend->memory();
  EXPECT_GT(before.weight_bytes, 0);
  EXPECT_EQ(before.kv_bytes_reserved, 0);
  EXPECT_EQ(before.kv_budget_bytes, BackendOptions{}.kv_budget_bytes);
  ASSERT_TRUE(backend->Forward(TokenBatch(1, 0, Prompt(70))).ok());
  const MemoryUsage after = backend->memory();
  const int64_t page = KvCache::kPageTokens * 2 * 2 * 32 * 4;
  EXPECT_EQ(after.kv_bytes_reserved, 2 * page);  // 70 tokens: two pages
  EXPECT_GT(after.scratch_bytes, 0);
  ASSERT_TRUE(backend->ReleaseSession(1).ok());
  EXPECT_EQ(backend->memory().kv_bytes_reserved, 0);
  EXPECT_EQ(backend->memory().kv_bytes_cached, 2 * page);  // for reuse
  // A new, shorter session takes a cached page, which still holds session
  // 1's keys and values past its own tokens; its answers are those of a
  // backend with fresh pages.
  auto reused = backend->Forward(TokenBatch(2, 0, Prompt(5)));
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(backend->memory().kv_bytes_reserved, page);
  EXPECT_EQ(backend->memory().kv_bytes_cached, page);
  auto fresh = Load(GgmlType::kQ8_0)->Forward(TokenBatch(2, 0, Prompt(5)));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(reused->data, fresh->data);
}

}  // namespace
}  // namespace tessera::kernels
