// Traits, fp16/bf16 conversion and the 32-value block formats. Every block
// is written byte by byte here and every expected value worked out by hand
// from the layout in ggml_types.h (K-quants: k_quants_test.cc).
#include "model/ggml_types.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

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

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// ---------------------------------------------------------------- traits

TEST(GgmlTypesTest, BlockSizesMatchTheFormat) {
  struct Want {
    GgmlType type;
    int64_t block_elements, block_bytes;
  } wants[] = {{GgmlType::kF32, 1, 4},      {GgmlType::kF16, 1, 2},
               {GgmlType::kBF16, 1, 2},     {GgmlType::kQ4_0, 32, 18},
               {GgmlType::kQ4_1, 32, 20},   {GgmlType::kQ5_0, 32, 22},
               {GgmlType::kQ5_1, 32, 24},   {GgmlType::kQ8_0, 32, 34},
               {GgmlType::kQ8_1, 32, 36},   {GgmlType::kQ2_K, 256, 84},
               {GgmlType::kQ3_K, 256, 110}, {GgmlType::kQ4_K, 256, 144},
               {GgmlType::kQ5_K, 256, 176}, {GgmlType::kQ6_K, 256, 210},
               {GgmlType::kQ8_K, 256, 292}};
  for (const Want& w : wants) {
    EXPECT_EQ(Traits(w.type).block_elements, w.block_elements)
        << TypeName(w.type);
    EXPECT_EQ(Traits(w.type).block_bytes, w.block_bytes) << TypeName(w.type);
    EXPECT_TRUE(Traits(w.type).can_dequantize) << TypeName(w.type);
  }
  EXPECT_TRUE(Traits(GgmlType::kQ5_1).can_quantize);
  EXPECT_FALSE(Traits(GgmlType::kQ4_K).can_quantize);
}

TEST(GgmlTypesTest, UnknownIdsHaveNoTraits) {
  EXPECT_FALSE(GetTypeTraits(4).has_value());   // removed Q4_2
  EXPECT_FALSE(GetTypeTraits(16).has_value());  // IQ types: not supported
  EXPECT_FALSE(GetTypeTraits(0xffffffffu).has_value());
  ASSERT_TRUE(GetTypeTraits(12).has_value());
  EXPECT_STREQ(GetTypeTraits(12)->name, "q4_K");
}

TEST(GgmlTypesTest, ParsesNamesCaseInsensitively) {
  EXPECT_EQ(*ParseTypeName("f32"), GgmlType::kF32);
  EXPECT_EQ(*ParseTypeName("F16"), GgmlType::kF16);
  EXPECT_EQ(*ParseTypeName("q8_0"), GgmlType::kQ8_0);
  EXPECT_EQ(*ParseTypeName("Q4_K"), GgmlType::kQ4_K);
  EXPECT_EQ(*ParseTypeName("q6_k"), GgmlType::kQ6_K);
  EXPECT_EQ(*ParseTypeName("BF16"), GgmlType::kBF16);
  EXPECT_EQ(ParseTypeName("q9_9").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseTypeName("").ok());
}

TEST(GgmlTypesTest, RowBytes) {
  EXPECT_EQ(*RowBytes(GgmlType::kF32, 3), 12);
  EXPECT_EQ(*RowBytes(GgmlType::kQ8_0, 64), 68);
  EXPECT_EQ(*RowBytes(GgmlType::kQ4_K, 512), 288);
  EXPECT_EQ(*RowBytes(GgmlType::kQ6_K, 0), 0);
  EXPECT_EQ(RowBytes(GgmlType::kQ8_0, 33).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(RowBytes(GgmlType::kF32, -4).ok());
  EXPECT_FALSE(RowBytes(GgmlType::kF32, int64_t{1} << 62).ok());  // overflow
  EXPECT_TRUE(RowBytes(GgmlType::kF32, int64_t{1} << 60).ok());
  EXPECT_FALSE(RowBytes(static_cast<GgmlType>(4), 32).ok());
  EXPECT_TRUE(RowFits(GgmlType::kQ4_K, 256));
  EXPECT_FALSE(RowFits(GgmlType::kQ4_K, 128));
  EXPECT_FALSE(RowFits(GgmlType::kF32, 0));
}

// ------------------------------------------------------------ fp16, bf16

TEST(HalfTest, DecodesSpecialValues) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0xFC01)));
  EXPECT_EQ(HalfToFloat(0x8000), 0.0f);
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
}

TEST(HalfTest, EncodesWithRoundToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65519.99f), 0x7BFF);  // below the half-way point
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);   // tie, goes to even: infinity
  EXPECT_EQ(FloatToHalf(1e10f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xFC00);
  // 1 + 2^-11 lies half-way between 0x3C00 and 0x3C01: even wins.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)),
            0x3C01);
  // Mantissa carry into the exponent: 2047/1024 + tie -> 2.0.
  EXPECT_EQ(FloatToHalf(std::ldexp(2047.0f + 0.5f, -10)), 0x4000);
  // Subnormals: 2^-25 is a tie between 0 and 2^-24.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp -> 2
  EXPECT_EQ(FloatToHalf(-std::ldexp(5.0f, -24)), 0x8005);
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.5f, -24)), 0x0400);  // up to normal
  EXPECT_EQ(FloatToHalf(1e-30f), 0x0000);
  const uint16_t nan = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_NE(FloatToHalf(FromBits(0x7F800001)) & 0x03FF, 0);  // signalling NaN
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f)))) << h;
    } else {
      ASSERT_EQ(FloatToHalf(f), h) << h;
    }
  }
}

#if defined(__F16C__)
// The CPU's own conversion is an independent reference for rounding.
TEST(HalfTest, MatchesHardwareConversion) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    float f = FromBits(rng());
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)) << f;
    const auto h = static_cast<uint16_t>(rng());
    const float hw = _cvtsh_ss(h);
    if (!std::isnan(hw)) {
      ASSERT_EQ(HalfToFloat(h), hw) << h;
    }
  }
}
#endif

TEST(Bf16Test, ConvertsAndRoundsToNearestEven) {
  EXPECT_EQ(Bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(Bf16ToFloat(0xC040), -3.0f);
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie: even
  EXPECT_EQ(FloatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
            0x3F81);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(FloatToBf16(FromBits(0x7F7FFFFF)), 0x7F80);  // max float rounds up
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(FromBits(0x7F800001)))));
}

// ------------------------------------------------------- float tensors

TEST(DequantizeTest, FloatTypes) {
  const Bytes f32 = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC1};
  EXPECT_EQ(Deq(GgmlType::kF32, f32, 2), (std::vector<float>{1.0f, -8.0f}));
  // Nine values: more than one 8-wide vector step plus a scalar tail.
  Bytes f16;
  for (int i = 0; i < 9; ++i) {
    f16.push_back(0x00);
    f16.push_back(static_cast<uint8_t>(0x3C + 4 * (i % 2)));  // 1.0 or 2.0
  }
  EXPECT_EQ(Deq(GgmlType::kF16, f16, 9),
            (std::vector<float>{1, 2, 1, 2, 1, 2, 1, 2, 1}));
  const Bytes bf16 = {0x80, 0x3F, 0x40, 0xC0};
  EXPECT_EQ(Deq(GgmlType::kBF16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
}

TEST(QuantizeTest, FloatTypes) {
  const std::vector<float> x = {1.0f, -2.5f, 65504.0f, 1e-5f};
  EXPECT_EQ(Deq(GgmlType::kF32, Quant(GgmlType::kF32, x), 4), x);
  EXPECT_EQ(Deq(GgmlType::kF16, Quant(GgmlType::kF16, x), 4),
            (std::vector<float>{1.0f, -2.5f, 65504.0f, HalfToFloat(0x00A8)}));
  const Bytes bf16 = Quant(GgmlType::kBF16, {1.0f, -3.0f});
  EXPECT_EQ(bf16, (Bytes{0x80, 0x3F, 0x40, 0xC0}));
}

TEST(DequantizeTest, RejectsPartialBlocksAndUnknownTypes) {
  Bytes block(34, 0);
  std::vector<float> out(64);
  EXPECT_EQ(Dequantize(GgmlType::kQ8_0, block.data(), out.data(), 31).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Dequantize(static_cast<GgmlType>(16), block.data(), out.data(), 32)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Dequantize(GgmlType::kQ8_0, block.data(), out.data(), 0).ok());
}

TEST(QuantizeTest, RejectsUnsupportedTypesAndPartialBlocks) {
  std::vector<float> x(256, 1.0f);
  Bytes out(1024);
  EXPECT_EQ(Quantize(GgmlType::kQ4_K, x.data(), out.data(), 256).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Quantize(GgmlType::kQ8_0, x.data(), out.data(), 33).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Quantize(static_cast<GgmlType>(5), x.data(), out.data(), 32).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::model
