// RoPE + KV store and attention on the device against host computations.
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/opencl_kernels.h"
#include "kernels/opencl_ops.h"
#include "kernels/opencl_program_cache.h"
#include "kernels/opencl_testing.h"

namespace tessera::kernels {
namespace {

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Host RoPE on one head of `head_dim` values at `pos`.
void HostRope(const HeadShape& s, int64_t pos, float base, float* x) {
  const int64_t half = s.rope_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double theta = pos * std::pow(base, -2.0 * i / s.rope_dim);
    const int64_t a = s.neox ? i : 2 * i;
    const int64_t b = s.neox ? i + half : 2 * i + 1;
    const double xa = x[a], xb = x[b];
    x[a] = static_cast<float>(xa * std::cos(theta) - xb * std::sin(theta));
    x[b] = static_cast<float>(xa * std::sin(theta) + xb * std::cos(theta));
  }
}

// Parameters: neox rotation; forced lanes (0: the device's geometry).
class OpenClAttentionTest
    : public ::testing::TestWithParam<std::tuple<bool, int>> {
 protected:
  void SetUp() override {
    auto context = testing::DefaultContext();
    status_ = context.status();
    if (!context.ok()) return;
    context_ = std::move(*context);
    cache_ = std::make_unique<OpenClProgramCache>(
        context_.get(), OpenClProgramCache::DefaultDir());
    auto kernels = OpenClKernels::Create(context_.get(), cache_.get(),
                                         std::get<1>(GetParam()));
    status_ = kernels.status();
    if (!kernels.ok()) return;
    kernels_ = std::move(*kernels);
    auto ops = OpenClOps::Create(kernels_.get());
    status_ = ops.status();
    if (ops.ok()) ops_ = std::make_unique<OpenClOps>(std::move(*ops));
  }

  cl_mem Upload(const std::vector<float>& values) {
    auto mem = context_->CreateBuffer(values.size() * 4);
    EXPECT_TRUE(mem.ok());
    EXPECT_TRUE(
        context_->Write(mem->get(), 0, values.size() * 4, values.data(), true)
            .ok());
    buffers_.push_back(std::move(*mem));
    return buffers_.back().get();
  }
  // RoPE + store, then attention, against the host for a 4-head, 2-KV-head
  // shape of `head_dim`, rows at positions pos0.. of a `capacity` cache.
  void CheckAgainstHost(int64_t head_dim, int64_t pos0, int64_t capacity);

  std::vector<float> Download(cl_mem mem, size_t n) {
    std::vector<float> out(n);
    EXPECT_TRUE(context_->Read(mem, 0, n * 4, out.data()).ok());
    return out;
  }

  absl::Status status_;
  std::unique_ptr<OpenClContext> context_;
  std::unique_ptr<OpenClProgramCache> cache_;
  std::unique_ptr<OpenClKernels> kernels_;
  std::unique_ptr<OpenClOps> ops_;
  std::vector<ClMem> buffers_;
};

// Rows 1..3 of a 5-row qkv buffer belong to a session whose cache already
// holds `pos0` tokens: bias + RoPE + store, then attention over the cache.
void OpenClAttentionTest::CheckAgainstHost(int64_t head_dim, int64_t pos0,
                                           int64_t capacity) {
  SCOPED_TRACE(absl::StrCat("head_dim ", head_dim, " pos0 ", pos0));
  const bool neox = std::get<0>(GetParam());
  HeadShape s{4, 2, head_dim, neox ? head_dim / 2 : head_dim, neox};
  const int64_t rows = 5, row_begin = 1, n = 3;
  const float base = 10000.0f;
  std::vector<float> qkv = RandomVector(rows * s.qkv_dim(), 1);
  std::vector<float> bias = RandomVector(s.qkv_dim(), 2);
  std::vector<float> k_cache = RandomVector(capacity * s.kv_dim(), 3);
  std::vector<float> v_cache = RandomVector(capacity * s.kv_dim(), 4);
  std::vector<float> rope(capacity * s.rope_dim);
  for (int64_t pos = 0; pos < capacity; ++pos) {
    for (int64_t i = 0; i < s.rope_dim / 2; ++i) {
      const double theta = pos * std::pow(base, -2.0 * i / s.rope_dim);
      rope[(pos * s.rope_dim / 2 + i) * 2] = std::cos(theta);
      rope[(pos * s.rope_dim / 2 + i) * 2 + 1] = std::sin(theta);
    }
  }
  cl_mem qkv_b = Upload(qkv), k_b = Upload(k_cache), v_b = Upload(v_cache);
  cl_mem out_b = Upload(std::vector<float>(rows * s.dim()));
  cl_mem scores = Upload(std::vector<float>(n * s.n_heads * (pos0 + n)));
  ASSERT_TRUE(ops_->RopeStore(s, qkv_b, row_begin, n, pos0, Upload(rope),
                              Upload(bias), k_b, v_b)
                  .ok());
  ASSERT_TRUE(ops_->Attention(s, qkv_b, row_begin, n, pos0, k_b, v_b, scores,
                              pos0 + n, out_b)
                  .ok());

  // Host: bias, rotate, store.
  for (int64_t r = 0; r < n; ++r) {
    float* row = &qkv[(row_begin + r) * s.qkv_dim()];
    for (int64_t i = 0; i < s.qkv_dim(); ++i) row[i] += bias[i];
    for (int64_t h = 0; h < s.n_heads + s.n_kv_heads; ++h) {
      HostRope(s, pos0 + r, base, row + h * s.head_dim);
    }
    for (int64_t i = 0; i < s.kv_dim(); ++i) {
      k_cache[(pos0 + r) * s.kv_dim() + i] = row[s.dim() + i];
      v_cache[(pos0 + r) * s.kv_dim() + i] = row[s.dim() + s.kv_dim() + i];
    }
  }
  std::vector<float> got_qkv = Download(qkv_b, qkv.size());
  std::vector<float> got_k = Download(k_b, k_cache.size());
  std::vector<float> got_v = Download(v_b, v_cache.size());
  for (int64_t r = row_begin; r < row_begin + n; ++r) {
    for (int64_t i = 0; i < s.dim(); ++i) {  // rotated Q
      ASSERT_NEAR(got_qkv[r * s.qkv_dim() + i], qkv[r * s.qkv_dim() + i], 1e-5);
    }
  }
  for (size_t i = 0; i < k_cache.size(); ++i) {
    ASSERT_NEAR(got_k[i], k_cache[i], 1e-5) << i;
    ASSERT_NEAR(got_v[i], v_cache[i], 1e-5) << i;
  }
  // Host attention.
  std::vector<float> got = Download(out_b, rows * s.dim());
  const int64_t group = s.n_heads / s.n_kv_heads;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pos = pos0 + r;
    for (int64_t h = 0; h < s.n_heads; ++h) {
      const float* q = &qkv[(row_begin + r) * s.qkv_dim() + h * s.head_dim];
      const int64_t kv = (h / group) * s.head_dim;
      std::vector<double> p(pos + 1);
      double max_score = -1e30, sum = 0;
      for (int64_t t = 0; t <= pos; ++t) {
        double dot = 0;
        for (int64_t d = 0; d < s.head_dim; ++d) {
          dot += q[d] * k_cache[t * s.kv_dim() + kv + d];
        }
        p[t] = dot / std::sqrt(static_cast<double>(s.head_dim));
        max_score = std::max(max_score, p[t]);
      }
      for (double& v : p) sum += (v = std::exp(v - max_score));
      for (int64_t d = 0; d < s.head_dim; ++d) {
        double want = 0;
        for (int64_t t = 0; t <= pos; ++t) {
          want += p[t] / sum * v_cache[t * s.kv_dim() + kv + d];
        }
        ASSERT_NEAR(got[(row_begin + r) * s.dim() + h * s.head_dim + d], want,
                    1e-5)
            << "row " << r << " head " << h << " dim " << d;
      }
    }
  }
}

TEST_P(OpenClAttentionTest, RopeStoreThenAttentionMatchHost) {
  TESSERA_REQUIRE_OPENCL(status_);
  CheckAgainstHost(/*head_dim=*/16, /*pos0=*/6, /*capacity=*/12);
  // Two 16-wide slices per head; 38-40 positions: two 16-wide exponential
  // steps and a tail.
  CheckAgainstHost(/*head_dim=*/32, /*pos0=*/37, /*capacity=*/48);
  // Neither a multiple of 16 (the generic loops, as stories260K's 8).
  CheckAgainstHost(/*head_dim=*/8, /*pos0=*/20, /*capacity=*/24);
}

INSTANTIATE_TEST_SUITE_P(
    RotationModesAndLanes, OpenClAttentionTest,
    ::testing::Combine(::testing::Bool(), ::testing::Values(0, 8)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) ? "Neox" : "Normal") +
             (std::get<1>(info.param) == 0 ? "Device" : "Lanes8");
    });

}  // namespace
}  // namespace tessera::kernels
