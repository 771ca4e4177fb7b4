#include "worker/activation_codec.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "worker/crc32c.h"

namespace tessera::worker {
namespace {

std::vector<float> RandomValues(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(Crc32cTest, KnownVector) {
  // RFC 3720 (iSCSI) test vector: 32 bytes of zeros.
  const std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, ExtendMatchesWhole) {
  const std::string s = "the quick brown fox jumps over the lazy dog";
  EXPECT_EQ(Crc32cExtend(Crc32c(s.data(), 10), s.data() + 10, s.size() - 10),
            Crc32c(s.data(), s.size()));
}

class CodecRoundTripTest
    : public ::testing::TestWithParam<std::tuple<Codec, int>> {};

TEST_P(CodecRoundTripTest, RoundTripWithinTolerance) {
  const auto [codec, level] = GetParam();
  const int64_t rows = 3, cols = 70;  // 70: a partial q8_0 block per row
  const std::vector<float> in = RandomValues(rows * cols, 7);
  auto frame = EncodeActivations(in, rows, cols, {codec, level});
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->zstd, level > 0);
  EXPECT_EQ(frame->raw_bytes, RawPayloadBytes(codec, rows, cols));
  auto out = DecodeActivations(*frame, cols);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const float tol = codec == Codec::kF32   ? 0.0f
                      : codec == Codec::kF16 ? 4e-3f * std::fabs(in[i]) + 1e-6f
                                             : 0.06f;
    ASSERT_NEAR((*out)[i], in[i], tol) << "value " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllCodecs, CodecRoundTripTest,
    ::testing::Combine(::testing::Values(Codec::kF32, Codec::kF16, Codec::kQ8_0),
                       ::testing::Values(0, 1, 5)));

TEST(ActivationCodecTest, SizesPerCodec) {
  EXPECT_EQ(RawPayloadBytes(Codec::kF32, 2, 64), 512u);
  EXPECT_EQ(RawPayloadBytes(Codec::kF16, 2, 64), 256u);
  EXPECT_EQ(RawPayloadBytes(Codec::kQ8_0, 2, 64), 2u * 2 * 34);
  EXPECT_EQ(RawPayloadBytes(Codec::kQ8_0, 1, 33), 2u * 34);
}

TEST(ActivationCodecTest, ZstdShrinksRedundantData) {
  std::vector<float> zeros(4096, 0.0f);
  auto frame = EncodeActivations(zeros, 4, 1024, {Codec::kF32, 3});
  ASSERT_TRUE(frame.ok());
  EXPECT_LT(frame->data.size(), 1000u);
}

TEST(ActivationCodecTest, FlippedPayloadByteIsDataLoss) {
  for (int level : {0, 3}) {
    auto frame = EncodeActivations(RandomValues(128, 1), 2, 64,
                                   {Codec::kF16, level});
    ASSERT_TRUE(frame.ok());
    frame->data[frame->data.size() / 2] ^= 0x10;
    EXPECT_EQ(DecodeActivations(*frame).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(ActivationCodecTest, WrongChecksumIsDataLoss) {
  auto frame = EncodeActivations(RandomValues(64, 2), 1, 64, {});
  ASSERT_TRUE(frame.ok());
  frame->crc32c ^= 1;
  EXPECT_EQ(DecodeActivations(*frame).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(ActivationCodecTest, MalformedFramesAreInvalidArgument) {
  auto good = EncodeActivations(RandomValues(128, 3), 2, 64, {});
  ASSERT_TRUE(good.ok());
  auto expect_invalid = [](EncodedActivations f, const char* what) {
    f.crc32c = FrameChecksum(f);  // a consistent checksum: shape checks fire
    EXPECT_EQ(DecodeActivations(f, 64).status().code(),
              absl::StatusCode::kInvalidArgument)
        << what;
  };
  EncodedActivations f = *good;
  f.rows = 3;
  expect_invalid(f, "rows disagree with raw_bytes");
  f = *good;
  f.data.resize(100);
  expect_invalid(f, "short payload");
  f = *good;
  f.cols = 32;
  f.rows = 4;
  expect_invalid(f, "unexpected column count");
  f = *good;
  f.rows = -1;
  expect_invalid(f, "negative rows");
  f = *good;
  f.rows = kMaxFrameRows + 1;
  expect_invalid(f, "huge rows");
  f = *good;
  f.codec = static_cast<Codec>(9);
  expect_invalid(f, "unknown codec");
  f = *good;
  f.zstd = true;
  expect_invalid(f, "not a zstd frame");
}

TEST(ActivationCodecTest, ZstdFrameLyingAboutSizeIsInvalid) {
  auto small = EncodeActivations(RandomValues(64, 4), 1, 64, {Codec::kF32, 1});
  auto big = EncodeActivations(RandomValues(128, 4), 2, 64, {Codec::kF32, 1});
  ASSERT_TRUE(small.ok() && big.ok());
  EncodedActivations f = *big;
  f.data = small->data;  // declares 256 bytes, header says 512
  f.crc32c = FrameChecksum(f);
  EXPECT_EQ(DecodeActivations(f).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ActivationCodecTest, EncodeRejectsBadInput) {
  std::vector<float> v(10);
  EXPECT_FALSE(EncodeActivations(v, 2, 6, {}).ok());
  EXPECT_FALSE(EncodeActivations(v, 0, 10, {}).ok());
  EXPECT_FALSE(EncodeActivations(v, 1, 10, {Codec::kF32, 99}).ok());
}

TEST(ActivationCodecTest, ParseCodecNames) {
  EXPECT_EQ(*ParseCodec("q8_0"), Codec::kQ8_0);
  EXPECT_STREQ(CodecName(*ParseCodec("f16")), "f16");
  EXPECT_FALSE(ParseCodec("q4_0").ok());
}

}  // namespace
}  // namespace tessera::worker
