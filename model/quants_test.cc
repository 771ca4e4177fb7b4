// The 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1): blocks
// written byte by byte, expected values worked out by hand from the layouts
// in ggml_types.h, and reference-rounding quantisation.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/ggml_types.h"

namespace tessera::model {
namespace {

using Bytes = std::vector<uint8_t>;

std::vector<float> Deq(GgmlType type, const Bytes& bytes, int64_t n) {
  std::vector<float> out(n, -12345.0f);
  absl::Status status = Dequantize(type, bytes.data(), out.data(), n);
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

Bytes Quant(GgmlType type, const std::vector<float>& values) {
  Bytes out(*RowBytes(type, values.size()), 0xEE);
  absl::Status status = Quantize(type, values.data(), out.data(),
                                 static_cast<int64_t>(values.size()));
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// qs[j] = j in the low nibble and 15 - j in the high nibble.
void AppendRampNibbles(Bytes* b) {
  for (int j = 0; j < 16; ++j)
    b->push_back(static_cast<uint8_t>(j | (15 - j) << 4));
}
// qs[j] = j in both nibbles.
void AppendSameNibbles(Bytes* b) {
  for (int j = 0; j < 16; ++j) b->push_back(static_cast<uint8_t>(j | j << 4));
}

TEST(LegacyQuantsTest, DequantizeQ8_0) {
  Bytes b = {0x00, 0x38, 0x7F, 0x80};  // d = 0.5; q0 = 127, q1 = -128
  for (int j = 2; j < 32; ++j) b.push_back(static_cast<uint8_t>(j - 16));
  // A second block, d = -2.0 and every q = 3, checks the block stride.
  b.insert(b.end(), {0x00, 0xC0});
  b.insert(b.end(), 32, 3);
  std::vector<float> x = Deq(GgmlType::kQ8_0, b, 64);
  EXPECT_EQ(x[0], 63.5f);
  EXPECT_EQ(x[1], -64.0f);
  EXPECT_EQ(x[2], -7.0f);
  EXPECT_EQ(x[16], 0.0f);
  EXPECT_EQ(x[31], 7.5f);
  for (int j = 2; j < 32; ++j) EXPECT_EQ(x[j], 0.5f * (j - 16)) << j;
  for (int j = 32; j < 64; ++j) EXPECT_EQ(x[j], -6.0f) << j;
}

TEST(LegacyQuantsTest, DequantizeQ8_1) {
  Bytes b = {0x00, 0x38, 0x00, 0x4C};  // d = 0.5, s = 16 (unused here)
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(j - 16));
  std::vector<float> x = Deq(GgmlType::kQ8_1, b, 32);
  EXPECT_EQ(x[0], -8.0f);
  EXPECT_EQ(x[31], 7.5f);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(x[j], 0.5f * (j - 16)) << j;
}

TEST(LegacyQuantsTest, DequantizeQ4_0) {
  Bytes b = {0x00, 0x40};  // d = 2.0
  AppendRampNibbles(&b);
  std::vector<float> x = Deq(GgmlType::kQ4_0, b, 32);
  // x = 2 * (nibble - 8); low nibbles are values 0..15, high ones 16..31.
  EXPECT_EQ(x[0], -16.0f);
  EXPECT_EQ(x[8], 0.0f);
  EXPECT_EQ(x[15], 14.0f);
  EXPECT_EQ(x[16], 14.0f);
  EXPECT_EQ(x[31], -16.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[j], 2.0f * (j - 8)) << j;
    EXPECT_EQ(x[j + 16], 2.0f * (7 - j)) << j;
  }
}

TEST(LegacyQuantsTest, DequantizeQ4_1) {
  Bytes b = {0x00, 0x38, 0x00, 0xBC};  // d = 0.5, m = -1.0
  AppendRampNibbles(&b);
  std::vector<float> x = Deq(GgmlType::kQ4_1, b, 32);
  EXPECT_EQ(x[0], -1.0f);
  EXPECT_EQ(x[15], 6.5f);
  EXPECT_EQ(x[16], 6.5f);
  EXPECT_EQ(x[30], -0.5f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[j], 0.5f * j - 1.0f) << j;
    EXPECT_EQ(x[j + 16], 0.5f * (15 - j) - 1.0f) << j;
  }
}

TEST(LegacyQuantsTest, DequantizeQ5_0) {
  // d = 1.0; qh = 0x80000001: only values 0 and 31 have the 5th bit.
  Bytes b = {0x00, 0x3C, 0x01, 0x00, 0x00, 0x80};
  AppendSameNibbles(&b);
  std::vector<float> x = Deq(GgmlType::kQ5_0, b, 32);
  EXPECT_EQ(x[0], 0.0f);    // (0 | 16) - 16
  EXPECT_EQ(x[1], -15.0f);  // 1 - 16
  EXPECT_EQ(x[16], -16.0f);
  EXPECT_EQ(x[30], -2.0f);
  EXPECT_EQ(x[31], 15.0f);  // (15 | 16) - 16
  for (int j = 1; j < 16; ++j) EXPECT_EQ(x[j], j - 16.0f) << j;
  for (int j = 0; j < 15; ++j) EXPECT_EQ(x[16 + j], j - 16.0f) << j;
}

TEST(LegacyQuantsTest, DequantizeQ5_1) {
  // d = 0.25, m = 1.0; qh = 0x00010002: 5th bit on values 1 and 16.
  Bytes b = {0x00, 0x34, 0x00, 0x3C, 0x02, 0x00, 0x01, 0x00};
  AppendSameNibbles(&b);
  std::vector<float> x = Deq(GgmlType::kQ5_1, b, 32);
  EXPECT_EQ(x[0], 1.0f);
  EXPECT_EQ(x[1], 5.25f);  // 0.25 * 17 + 1
  EXPECT_EQ(x[2], 1.5f);
  EXPECT_EQ(x[16], 5.0f);  // 0.25 * 16 + 1
  EXPECT_EQ(x[17], 1.25f);
  EXPECT_EQ(x[31], 4.75f);
  for (int j = 2; j < 16; ++j) EXPECT_EQ(x[j], 0.25f * j + 1.0f) << j;
}

// ------------------------------------------------------------ quantise

TEST(LegacyQuantsTest, QuantizeQ4_0ExactGrid) {
  // Largest magnitude -8 gives d = -8 / -8 = 1: integers land exactly.
  std::vector<float> x(32);
  for (int j = 0; j < 16; ++j) {
    x[j] = j - 8.0f;
    x[j + 16] = 7.0f - j;
  }
  Bytes want = {0x00, 0x3C};
  AppendRampNibbles(&want);
  EXPECT_EQ(Quant(GgmlType::kQ4_0, x), want);
  EXPECT_EQ(Deq(GgmlType::kQ4_0, want, 32), x);
}

TEST(LegacyQuantsTest, QuantizeQ4_0RoundsHalfUpAndClamps) {
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;  // d = 1
  x[1] = -0.5f;  // -0.5 + 8.5 = 8.0 -> 8 (ggml truncates after +8.5)
  x[2] = 0.5f;   // 9.0 -> 9
  x[3] = 7.9f;   // 16.4 -> 16, clamped to 15
  x[4] = -1.5f;  // 7.0 -> 7
  const Bytes q = Quant(GgmlType::kQ4_0, x);
  EXPECT_EQ(q[2 + 1] & 0x0F, 8);
  EXPECT_EQ(q[2 + 2] & 0x0F, 9);
  EXPECT_EQ(q[2 + 3] & 0x0F, 15);
  EXPECT_EQ(q[2 + 4] & 0x0F, 7);
  EXPECT_EQ(q[2 + 5] & 0x0F, 8);  // 0 -> 8
}

TEST(LegacyQuantsTest, QuantizeQ4_1ExactGrid) {
  // min 1, max 8.5: d = 7.5 / 15 = 0.5, m = 1.
  std::vector<float> x(32);
  for (int j = 0; j < 16; ++j) {
    x[j] = 0.5f * j + 1.0f;
    x[j + 16] = 0.5f * (15 - j) + 1.0f;
  }
  Bytes want = {0x00, 0x38, 0x00, 0x3C};
  AppendRampNibbles(&want);
  EXPECT_EQ(Quant(GgmlType::kQ4_1, x), want);
}

TEST(LegacyQuantsTest, QuantizeQ5_0ExactGrid) {
  // x = j - 16: largest magnitude -16 gives d = 1, q = j.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = j - 16.0f;
  Bytes want = {0x00, 0x3C, 0x00, 0x00, 0xFF, 0xFF};  // qh: values 16..31
  AppendSameNibbles(&want);
  EXPECT_EQ(Quant(GgmlType::kQ5_0, x), want);
  EXPECT_EQ(Deq(GgmlType::kQ5_0, want, 32), x);
}

TEST(LegacyQuantsTest, QuantizeQ5_1ExactGrid) {
  // min 1, max 8.75: d = 7.75 / 31 = 0.25, q = j.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.25f * j + 1.0f;
  Bytes want = {0x00, 0x34, 0x00, 0x3C, 0x00, 0x00, 0xFF, 0xFF};
  AppendSameNibbles(&want);
  EXPECT_EQ(Quant(GgmlType::kQ5_1, x), want);
  EXPECT_EQ(Deq(GgmlType::kQ5_1, want, 32), x);
}

TEST(LegacyQuantsTest, QuantizeQ8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = -127.0f;
  const Bytes q = Quant(GgmlType::kQ8_0, x);
  EXPECT_EQ(q[0], 0x00);
  EXPECT_EQ(q[1], 0x3C);
  EXPECT_EQ(static_cast<int8_t>(q[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(q[3]), 3);
  EXPECT_EQ(static_cast<int8_t>(q[4]), -3);
  EXPECT_EQ(static_cast<int8_t>(q[5]), 4);
  EXPECT_EQ(static_cast<int8_t>(q[6]), -127);
}

TEST(LegacyQuantsTest, ZeroBlocksStayZero) {
  const std::vector<float> zeros(64, 0.0f);
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0,
                        GgmlType::kQ5_1, GgmlType::kQ8_0}) {
    EXPECT_EQ(Deq(type, Quant(type, zeros), 64), zeros) << TypeName(type);
  }
}

TEST(LegacyQuantsTest, DegenerateInputsDoNotMisbehave) {
  // A subnormal scale (1/d overflows) and non-finite values must give some
  // codes without undefined behaviour (checked under UBSan).
  std::vector<float> x(32, 0.0f);
  x[0] = 1e-40f;
  x[1] = std::numeric_limits<float>::infinity();
  x[2] = std::numeric_limits<float>::quiet_NaN();
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0,
                        GgmlType::kQ5_1, GgmlType::kQ8_0}) {
    Bytes q = Quant(type, x);
    EXPECT_EQ(q.size(), static_cast<size_t>(Traits(type).block_bytes));
  }
}

// Round trip of seeded Gaussian data: every value within the error bound of
// its block's format (half a step, plus the fp16 rounding of d and m).
TEST(LegacyQuantsTest, RoundTripErrorIsBounded) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(32 * 64);
  for (float& v : x) v = normal(rng) * 3.0f;
  x[100] = 40.0f;  // an outlier in one block
  struct Case {
    GgmlType type;
    bool affine;
    float levels;  // steps between the extremes
    float steps;   // error bound in steps: 1/2, or 1 where the top clips
  } cases[] = {{GgmlType::kQ8_0, false, 254, 0.5f},
               {GgmlType::kQ4_0, false, 16, 1.0f},
               {GgmlType::kQ5_0, false, 32, 1.0f},
               {GgmlType::kQ4_1, true, 15, 0.5f},
               {GgmlType::kQ5_1, true, 31, 0.5f}};
  for (const Case& c : cases) {
    std::vector<float> y = Deq(c.type, Quant(c.type, x), x.size());
    for (size_t b = 0; b < x.size(); b += 32) {
      auto [lo, hi] = std::minmax_element(&x[b], &x[b] + 32);
      const float amax = std::max(-*lo, *hi);
      const float step =
          c.affine ? (*hi - *lo) / c.levels : 2 * amax / c.levels;
      // Q4_0/Q5_0 map the signed extreme to -8/-16: the other end clips.
      const float bound = c.steps * step + 4e-3f * (amax + std::fabs(*lo));
      for (size_t j = b; j < b + 32; ++j) {
        ASSERT_LE(std::fabs(x[j] - y[j]), bound)
            << TypeName(c.type) << " value " << j;
      }
    }
  }
}

}  // namespace
}  // namespace tessera::model
