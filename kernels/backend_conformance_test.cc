// The backend conformance suite: every backend x every execution format
// against the reference forward pass on stories260K. Per format, the
// reference runs with the same weights (each matrix round-tripped through
// the format), so the remaining differences are the backend's own
// arithmetic (8-bit activations for Q8_0/Q4_0, float summation order); they
// are bounded by a normalised MSE per format. F32 greedy generation must
// reproduce the golden token ids exactly.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/golden.h"
#include "common/testing/shared_data.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/conformance_util.h"
#include "model/model_file.h"
#include "model/reference_model.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

struct Param {
  std::string backend;
  GgmlType format;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.backend << "/" << model::TypeName(p.format);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return info.param.backend + "_" + model::TypeName(info.param.format);
}

class BackendConformanceTest : public ::testing::TestWithParam<Param> {
 protected:
  static void SetUpTestSuite() {
    if (!testing::FileExists(testing::StoriesModelPath())) return;
    auto file = model::ModelFile::Open(testing::StoriesModelPath());
    ASSERT_TRUE(file.ok()) << file.status();
    file_ = file->release();
  }
  static void TearDownTestSuite() {
    delete file_;
    file_ = nullptr;
  }

  void SetUp() override {
    TESSERA_REQUIRE_SHARED_FILE(testing::StoriesModelPath());
    ASSERT_NE(file_, nullptr);
    auto reference = RoundTripReference::Create(file_->weights, format());
    ASSERT_TRUE(reference.ok()) << reference.status();
    reference_ = std::move(*reference);
  }

  GgmlType format() const { return GetParam().format; }
  const model::ModelConfig& config() const { return file_->config; }
  const model::ModelWeights& weights() const { return file_->weights; }

  // A backend with `spec` loaded; fails the test (with the backend's own
  // message) when it cannot be created, e.g. no OpenCL device.
  std::unique_ptr<Backend> Load(const ShardSpec& spec,
                                int64_t kv_budget = 64 << 20) {
    BackendOptions options;
    options.threads = 2;
    options.kv_budget_bytes = kv_budget;
    auto backend = CreateBackend(GetParam().backend, options);
    EXPECT_TRUE(backend.ok()) << GetParam().backend << ": " << backend.status();
    if (!backend.ok()) return nullptr;
    auto report = (*backend)->LoadShard(weights(), spec);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return nullptr;
    EXPECT_GT(report->weight_bytes, 0);
    return std::move(*backend);
  }

  ShardSpec Spec(int64_t first, int64_t end, bool embedding, bool head) const {
    ShardSpec spec;
    spec.first_layer = first;
    spec.end_layer = end;
    spec.has_embedding = embedding;
    spec.has_head = head;
    spec.layer_formats.assign(end - first, format());
    spec.head_format = format();
    return spec;
  }

  ShardSpec FullSpec() const { return Spec(0, config().n_layers, true, true); }

  static model::ModelFile* file_;
  std::unique_ptr<RoundTripReference> reference_;
};

model::ModelFile* BackendConformanceTest::file_ = nullptr;

TEST_P(BackendConformanceTest, EmbeddingLookupIsExact) {
  auto backend = Load(Spec(0, 0, true, false));
  ASSERT_NE(backend, nullptr);
  const std::vector<int32_t> tokens = {1, 403, 0, 511, 7};
  auto out = backend->Forward(TokenBatch(7, 0, tokens));
  ASSERT_TRUE(out.ok()) << out.status();
  auto session = reference_->model().NewSession(64);
  auto want = session->Embed(tokens);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(out->num_rows, 5);
  EXPECT_EQ(out->row_width, config().dim);
  EXPECT_EQ(out->data, *want);
}

TEST_P(BackendConformanceTest, HeadMatchesReference) {
  const int64_t n = config().n_layers;
  auto backend = Load(Spec(n, n, false, true));
  ASSERT_NE(backend, nullptr);
  const std::vector<float> hidden = RandomRows(3, config().dim, 11);
  Batch batch = HiddenBatch(3, 0, 3, hidden);
  batch.rows[1].want_output = false;
  auto out = backend->Forward(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->num_rows, 2);
  ASSERT_EQ(out->row_width, config().vocab_size);
  auto session = reference_->model().NewSession(64);
  const std::vector<float> want =
      session->Head({hidden.begin(), hidden.begin() + config().dim});
  const std::vector<float> want2 =
      session->Head({hidden.begin() + 2 * config().dim, hidden.end()});
  const std::vector<float> got(out->data.begin(),
                               out->data.begin() + config().vocab_size);
  const std::vector<float> got2(out->data.begin() + config().vocab_size,
                                out->data.end());
  EXPECT_LT(Nmse(got, want), NmseLimit(format()));
  EXPECT_LT(Nmse(got2, want2), NmseLimit(format()));
}

TEST_P(BackendConformanceTest, MiddleLayerPrefillAndDecodeMatchReference) {
  auto backend = Load(Spec(2, 3, false, false));
  ASSERT_NE(backend, nullptr);
  auto session = reference_->model().NewSession(64);
  int32_t position = 0;
  for (int64_t rows : {6, 1, 1, 3}) {
    std::vector<float> hidden = RandomRows(rows, config().dim, 100 + position);
    auto out = backend->Forward(HiddenBatch(5, position, rows, hidden));
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE(session->ForwardLayers(2, 3, hidden).ok());
    EXPECT_EQ(out->num_rows, rows);
    EXPECT_LT(Nmse(out->data, hidden), NmseLimit(format()))
        << "rows at position " << position;
    position += static_cast<int32_t>(rows);
    EXPECT_EQ(backend->SessionLength(5), position);
  }
}

TEST_P(BackendConformanceTest, WholeModelLogitsMatchReference) {
  auto backend = Load(FullSpec());
  ASSERT_NE(backend, nullptr);
  auto session = reference_->model().NewSession(128);
  std::vector<int32_t> tokens = {1, 403, 407, 261, 378};
  int32_t position = 0;
  for (int step = 0; step < 6; ++step) {
    Batch batch = TokenBatch(9, position, tokens);
    auto out = backend->Forward(batch);
    ASSERT_TRUE(out.ok()) << out.status();
    auto want = session->Forward(tokens);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(out->num_rows, 1);
    EXPECT_LT(Nmse(out->data, *want), NmseLimit(format())) << "step " << step;
    position += static_cast<int32_t>(tokens.size());
    tokens = {Argmax(*want)};
  }
}

TEST_P(BackendConformanceTest, MultiSessionBatchesMatchSeparateSessions) {
  auto backend = Load(FullSpec());
  ASSERT_NE(backend, nullptr);
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 403, 407, 261, 378}, {1, 317, 269}, {1, 291, 400, 428, 17, 99, 5}};
  const std::vector<uint64_t> ids = {101, 202, 303};
  std::vector<std::unique_ptr<model::ReferenceSession>> refs;
  // One prefill batch holding all three prompts.
  Batch prefill;
  for (size_t s = 0; s < prompts.size(); ++s) {
    refs.push_back(reference_->model().NewSession(64));
    Batch one = TokenBatch(ids[s], 0, prompts[s]);
    prefill.rows.insert(prefill.rows.end(), one.rows.begin(), one.rows.end());
  }
  auto out = backend->Forward(prefill);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->num_rows, 3);
  std::vector<int32_t> next(3);
  for (size_t s = 0; s < prompts.size(); ++s) {
    auto want = refs[s]->Forward(prompts[s]);
    ASSERT_TRUE(want.ok());
    EXPECT_LT(Nmse(Row(*out, s), *want), NmseLimit(format()))
        << "session " << s;
    next[s] = Argmax(*want);
  }
  // Decode micro-batches with the sessions in a different order each time.
  for (int step = 0; step < 4; ++step) {
    Batch decode;
    std::vector<size_t> order = {2, 0, 1};
    std::rotate(order.begin(), order.begin() + step % 3, order.end());
    for (size_t s : order) {
      decode.rows.push_back(
          {ids[s], static_cast<int32_t>(refs[s]->position()), next[s], true});
    }
    auto step_out = backend->Forward(decode);
    ASSERT_TRUE(step_out.ok()) << step_out.status();
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t s = order[i];
      auto want = refs[s]->Forward({next[s]});
      ASSERT_TRUE(want.ok());
      EXPECT_LT(Nmse(Row(*step_out, i), *want), NmseLimit(format()))
          << "step " << step << " session " << s;
      next[s] = Argmax(*want);
    }
  }
  // Releasing one session leaves the others intact; restarting at 0 resets.
  ASSERT_TRUE(backend->ReleaseSession(ids[1]).ok());
  EXPECT_EQ(backend->SessionLength(ids[1]), 0);
  EXPECT_EQ(backend->ReleaseSession(ids[1]).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(backend->SessionLength(ids[0]), refs[0]->position());
  auto fresh = reference_->model().NewSession(64);
  auto restart = backend->Forward(TokenBatch(ids[0], 0, prompts[2]));
  ASSERT_TRUE(restart.ok()) << restart.status();
  auto want = fresh->Forward(prompts[2]);
  ASSERT_TRUE(want.ok());
  EXPECT_LT(Nmse(restart->data, *want), NmseLimit(format()));
  EXPECT_EQ(backend->SessionLength(ids[0]), 7);
}

TEST_P(BackendConformanceTest, MalformedBatchesFailWithoutSideEffects) {
  auto backend = Load(FullSpec(), /*kv_budget=*/1 << 20);
  ASSERT_NE(backend, nullptr);
  ASSERT_TRUE(backend->Forward(TokenBatch(1, 0, {1, 403, 407})).ok());
  auto code = [&](const Batch& b) {
    return backend->Forward(b).status().code();
  };
  using absl::StatusCode;
  EXPECT_EQ(code(Batch{}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(TokenBatch(1, 5, {9})), StatusCode::kInvalidArgument);  // gap
  EXPECT_EQ(code(TokenBatch(1, 2, {9})),
            StatusCode::kInvalidArgument);  // overlap
  EXPECT_EQ(code(TokenBatch(2, 0, {9, 512})), StatusCode::kInvalidArgument);
  Batch split = TokenBatch(2, 0, {5, 6});
  split.rows.push_back({1, 3, 7, true});
  split.rows.push_back({2, 2, 8, true});  // session 2 again, not contiguous
  EXPECT_EQ(code(split), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(TokenBatch(
                3, 0, std::vector<int32_t>(config().context_length + 1, 5))),
            StatusCode::kOutOfRange);
  // 1 MiB of KV cannot hold a full context for several sessions.
  Batch big;
  for (uint64_t s = 10; s < 40; ++s) {
    Batch one = TokenBatch(s, 0, std::vector<int32_t>(200, 5));
    big.rows.insert(big.rows.end(), one.rows.begin(), one.rows.end());
  }
  EXPECT_EQ(code(big), StatusCode::kResourceExhausted);
  // Nothing above changed any session.
  EXPECT_EQ(backend->SessionLength(1), 3);
  EXPECT_EQ(backend->SessionLength(2), 0);
  EXPECT_EQ(backend->SessionLength(10), 0);
  EXPECT_TRUE(backend->Forward(TokenBatch(1, 3, {9})).ok());
  EXPECT_EQ(backend->SessionLength(1), 4);
  EXPECT_LE(backend->memory().kv_bytes_reserved, 1 << 20);
}

TEST_P(BackendConformanceTest, GreedyGenerationMatchesGolden) {
  TESSERA_REQUIRE_SHARED_FILE(testing::StoriesGoldenPath());
  auto cases = testing::LoadGoldenCases(testing::StoriesGoldenPath());
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 3u);
  auto backend = Load(FullSpec());
  ASSERT_NE(backend, nullptr);
  uint64_t session = 1;
  for (const testing::GoldenCase& golden : *cases) {
    auto ref_session = reference_->model().NewSession(512);
    const std::vector<int32_t> want = GreedyReference(
        *ref_session, golden.prompt_ids_with_bos, golden.new_tokens);
    if (format() == GgmlType::kF32) {
      auto got = GreedyBackend(*backend, session++, golden.prompt_ids_with_bos,
                               golden.new_tokens);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, want) << golden.prompt;
      EXPECT_EQ(file_->tokenizer->Decode(*got), golden.continuation)
          << golden.prompt;
      EXPECT_EQ(file_->tokenizer->Decode(want), golden.continuation)
          << golden.prompt;
    } else {
      // Quantised formats: teacher-forced along the reference's own greedy
      // path, the backend's top token must agree almost everywhere.
      auto agreement = TeacherForcedAgreement(*backend, session++,
                                              golden.prompt_ids_with_bos, want);
      ASSERT_TRUE(agreement.ok()) << agreement.status();
      EXPECT_GE(*agreement, 0.9) << golden.prompt;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendConformanceTest,
                         ::testing::Values(Param{"cpu", GgmlType::kF32},
                                           Param{"cpu", GgmlType::kF16},
                                           Param{"cpu", GgmlType::kQ8_0},
                                           Param{"cpu", GgmlType::kQ4_0},
                                           Param{"opencl", GgmlType::kF32},
                                           Param{"opencl", GgmlType::kF16},
                                           Param{"opencl", GgmlType::kQ8_0},
                                           Param{"opencl", GgmlType::kQ4_0}),
                         ParamName);

}  // namespace
}  // namespace tessera::kernels
