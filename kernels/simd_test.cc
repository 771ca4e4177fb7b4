#include "kernels/simd.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/ggml_types.h"
#include "model/reference_ops.h"

namespace tessera::kernels::simd {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(SimdTest, HalfConversionsMatchTheModelLibraryForAllHalves) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    const float want = model::HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&f, &want, 4), 0) << h;
    ASSERT_EQ(FloatToHalf(f), h) << h;
  }
}

TEST(SimdTest, FloatToHalfRoundsLikeTheModelLibrary) {
  const std::vector<float> values = Random(100000, 1, 1000.0f);
  for (float v : values) {
    for (float x : {v, v * 1e-6f, v * 1e-3f, v * 70.0f}) {
      ASSERT_EQ(FloatToHalf(x), model::FloatToHalf(x)) << x;
    }
  }
  std::vector<uint16_t> halves(values.size());
  ToHalf(values.data(), halves.data(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(halves[i], model::FloatToHalf(values[i])) << values[i];
  }
}

TEST(SimdTest, DotProductsMatchDoubleSums) {
  for (int64_t n : {1, 7, 16, 33, 64, 1000}) {
    const std::vector<float> a = Random(n, 2), b = Random(n, 3);
    std::vector<uint16_t> bh(n);
    double want = 0, want_h = 0;
    for (int64_t i = 0; i < n; ++i) {
      bh[i] = model::FloatToHalf(b[i]);
      want += double(a[i]) * b[i];
      want_h += double(a[i]) * model::HalfToFloat(bh[i]);
    }
    EXPECT_NEAR(Dot(a.data(), b.data(), n), want, 1e-4 * std::sqrt(n)) << n;
    EXPECT_NEAR(DotF16(a.data(), bh.data(), n), want_h, 1e-4 * std::sqrt(n))
        << n;
  }
}

TEST(SimdTest, ElementwiseOpsMatchScalarFormulas) {
  const int64_t n = 37;
  const std::vector<float> x = Random(n, 4), w = Random(n, 5);
  std::vector<float> y = Random(n, 6), y0 = y;
  Axpy(0.5f, x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(y[i], y0[i] + 0.5f * x[i]);
  std::vector<float> s(n);
  ScaleMul(x.data(), 2.0f, w.data(), s.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(s[i], x[i] * 2.0f * w[i]);
  EXPECT_EQ(Max(x.data(), n), *std::max_element(x.begin(), x.end()));
  double sq = 0;
  for (float v : x) sq += double(v) * v;
  EXPECT_NEAR(SumSquares(x.data(), n), sq, 1e-5 * sq);
}

TEST(SimdTest, SwiGluMatchesReference) {
  const int64_t n = 1000;
  const std::vector<float> g = Random(n, 7, 4.0f), u = Random(n, 8);
  std::vector<float> got(n), want(n);
  SwiGlu(g.data(), u.data(), got.data(), n);
  model::ref::SwiGlu(g.data(), u.data(), n, want.data());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(got[i], want[i], 2e-6f * (1 + std::fabs(want[i]))) << g[i];
  }
}

TEST(SimdTest, ExpShiftedSumIsAccurate) {
  std::vector<float> x = Random(333, 9, 10.0f);
  const std::vector<float> original = x;
  const float total = ExpShiftedSum(x.data(), 3.0f, 333);
  double want_total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(double(original[i]) - 3.0);
    want_total += want;
    ASSERT_NEAR(x[i], want, 1e-6 * want) << original[i];
  }
  EXPECT_NEAR(total, want_total, 1e-5 * want_total);
}

}  // namespace
}  // namespace tessera::kernels::simd
