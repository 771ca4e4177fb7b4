// K-quant super-blocks (256 values): each block is written byte by byte and
// checked twice: at a few values worked out by hand (comments show the
// arithmetic), and at all 256 values against the format definition written
// per value (which sub-block, which byte, which bits), independent of the
// loop structure of the implementation.
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "model/ggml_types.h"

namespace tessera::model {
namespace {

using Bytes = std::vector<uint8_t>;

std::vector<float> Deq(GgmlType type, const Bytes& bytes) {
  EXPECT_EQ(bytes.size(), static_cast<size_t>(Traits(type).block_bytes));
  std::vector<float> out(256, -12345.0f);
  absl::Status status = Dequantize(type, bytes.data(), out.data(), 256);
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// 2-bit codes used by Q2_K and Q3_K: bit pair k of qs[i] is (i + k) % 4, so
// value v (byte l = v % 32 of its half, pair k = (v % 128) / 32) has code
// (l + k) % 4.
Bytes TwoBitCodes(int n) {
  Bytes qs;
  for (int i = 0; i < n; ++i) {
    int byte = 0;
    for (int k = 0; k < 4; ++k) byte |= ((i + k) % 4) << (2 * k);
    qs.push_back(static_cast<uint8_t>(byte));
  }
  return qs;
}
int TwoBitCode(int v) { return (v % 32 + (v % 128) / 32) % 4; }

TEST(KQuantsTest, DequantizeQ2_K) {
  // scales[i] = min << 4 | scale with scale = i % 4 + 1, min = i / 4.
  Bytes b;
  for (int i = 0; i < 16; ++i)
    b.push_back(static_cast<uint8_t>((i / 4) << 4 | (i % 4 + 1)));
  Bytes qs = TwoBitCodes(64);
  b.insert(b.end(), qs.begin(), qs.end());
  b.insert(b.end(), {0x00, 0x3C, 0x00, 0x38});  // d = 1.0, dmin = 0.5
  std::vector<float> x = Deq(GgmlType::kQ2_K, b);
  EXPECT_EQ(x[0], 0.0f);    // sub 0 (scale 1, min 0), code 0
  EXPECT_EQ(x[41], 6.0f);   // sub 2 (3, 0), code (9 + 1) % 4 = 2: 3 * 2
  EXPECT_EQ(x[100], 8.5f);  // sub 6 (3, 1), code (4 + 3) % 4 = 3: 9 - 0.5
  EXPECT_EQ(x[201], 1.5f);  // sub 12 (1, 3), code (9 + 2) % 4 = 3: 3 - 1.5
  EXPECT_EQ(x[255], 6.5f);  // sub 15 (4, 3), code (31 + 3) % 4 = 2: 8 - 1.5
  for (int v = 0; v < 256; ++v) {
    const int sub = v / 16;
    const float want = 1.0f * (sub % 4 + 1) * TwoBitCode(v) - 0.5f * (sub / 4);
    ASSERT_EQ(x[v], want) << v;
  }
}

TEST(KQuantsTest, DequantizeQ3_K) {
  Bytes b;
  // hmask[l]: 0x0F for even l, 0xF0 for odd l. Bit v / 32 of hmask[v % 32]
  // is the high bit of value v; when it is clear, 4 is subtracted.
  for (int l = 0; l < 32; ++l) b.push_back(l % 2 ? 0xF0 : 0x0F);
  Bytes qs = TwoBitCodes(64);
  b.insert(b.end(), qs.begin(), qs.end());
  // Sixteen 6-bit scales s_i = 33 + i (so s - 32 = i + 1): low nibbles of
  // s_i and s_{i+8} in byte i (0..7), top bit pairs in bytes 8..11 (pair
  // i / 4 of byte 8 + i % 4). s_0..s_14 have top bits 2, s_15 = 48 has 3.
  b.insert(b.end(), {0x91, 0xA2, 0xB3, 0xC4, 0xD5, 0xE6, 0xF7, 0x08, 0xAA, 0xAA,
                     0xAA, 0xEA});
  b.insert(b.end(), {0x00, 0x38});  // d = 0.5
  std::vector<float> x = Deq(GgmlType::kQ3_K, b);
  EXPECT_EQ(x[0], 0.0f);     // code 0, high bit set
  EXPECT_EQ(x[41], -3.0f);   // sub 2 (scale 3), code 2, bit 1 of 0xF0 clear:
                             // 0.5 * 3 * (2 - 4)
  EXPECT_EQ(x[100], 10.5f);  // sub 6 (7), code 3, bit 3 of 0x0F set
  EXPECT_EQ(x[201], 19.5f);  // sub 12 (13), code 3, bit 6 of 0xF0 set
  EXPECT_EQ(x[255], 16.0f);  // sub 15 (16), code 2, bit 7 of 0xF0 set
  for (int v = 0; v < 256; ++v) {
    const int l = v % 32;
    const bool high = ((l % 2 ? 0xF0 : 0x0F) >> (v / 32)) & 1;
    const int q = TwoBitCode(v) - (high ? 0 : 4);
    ASSERT_EQ(x[v], 0.5f * (v / 16 + 1) * q) << v;
  }
}

// Eight 6-bit (scale, min) pairs shared by the Q4_K and Q5_K blocks:
const int kScale[8] = {1, 2, 3, 4, 17, 18, 35, 60};
const int kMin[8] = {5, 6, 7, 8, 0, 16, 33, 63};
// Packed: bytes 0-3 = scale_j | top2(scale_{j+4}) << 6, bytes 4-7 = min_j |
// top2(min_{j+4}) << 6, bytes 8-11 = low4(scale_{j+4}) | low4(min_{j+4}) << 4.
const Bytes kPackedScales = {0x41, 0x42, 0x83, 0xC4, 0x05, 0x46,
                             0x87, 0xC8, 0x01, 0x02, 0x13, 0xFC};

// 4-bit codes of Q4_K / Q5_K: qs[i] = (i % 16) | ((i / 8) % 16) << 4. Value
// v is in chunk c = v / 64 (32 bytes); w = v % 64 < 32 reads the low nibble
// of qs[32c + w], otherwise the high nibble of qs[32c + w - 32].
Bytes FourBitCodes() {
  Bytes qs;
  for (int i = 0; i < 128; ++i)
    qs.push_back(static_cast<uint8_t>((i % 16) | ((i / 8) % 16) << 4));
  return qs;
}
int FourBitCode(int v) {
  const int i = 32 * (v / 64) + v % 32;
  return v % 64 < 32 ? i % 16 : (i / 8) % 16;
}

TEST(KQuantsTest, DequantizeQ4_K) {
  Bytes b = {0x00, 0x3C, 0x00, 0x38};  // d = 1.0, dmin = 0.5
  b.insert(b.end(), kPackedScales.begin(), kPackedScales.end());
  Bytes qs = FourBitCodes();
  b.insert(b.end(), qs.begin(), qs.end());
  std::vector<float> x = Deq(GgmlType::kQ4_K, b);
  EXPECT_EQ(x[0], -2.5f);     // sub 0 (1, 5), code 0: 0 - 0.5 * 5
  EXPECT_EQ(x[45], -1.0f);    // sub 1 (2, 6), high nibble of qs[13] = 1
  EXPECT_EQ(x[77], 35.5f);    // sub 2 (3, 7), low nibble of qs[45] = 13
  EXPECT_EQ(x[200], 263.5f);  // sub 6 (35, 33), low nibble of qs[104] = 8
  EXPECT_EQ(x[255], 868.5f);  // sub 7 (60, 63), high nibble of qs[127] = 15
  for (int v = 0; v < 256; ++v) {
    const int sub = v / 32;
    const float want = 1.0f * kScale[sub] * FourBitCode(v) - 0.5f * kMin[sub];
    ASSERT_EQ(x[v], want) << v;
  }
}

TEST(KQuantsTest, DequantizeQ5_K) {
  Bytes b = {0x00, 0x3C, 0x00, 0x38};  // d = 1.0, dmin = 0.5
  b.insert(b.end(), kPackedScales.begin(), kPackedScales.end());
  // qh[l]: 0x55 for even l, 0xAA for odd; bit `sub` of qh[v % 32] adds 16.
  for (int l = 0; l < 32; ++l) b.push_back(l % 2 ? 0xAA : 0x55);
  Bytes qs = FourBitCodes();
  b.insert(b.end(), qs.begin(), qs.end());
  std::vector<float> x = Deq(GgmlType::kQ5_K, b);
  EXPECT_EQ(x[0], 13.5f);      // code 0 + 16: 16 - 2.5
  EXPECT_EQ(x[45], 31.0f);     // (1 + 16) * 2 - 3
  EXPECT_EQ(x[77], 35.5f);     // bit 2 of 0xAA clear: 13 * 3 - 3.5
  EXPECT_EQ(x[200], 823.5f);   // (8 + 16) * 35 - 16.5
  EXPECT_EQ(x[255], 1828.5f);  // (15 + 16) * 60 - 31.5
  for (int v = 0; v < 256; ++v) {
    const int sub = v / 32;
    const int l = v % 32;
    const int high = (((l % 2 ? 0xAA : 0x55) >> sub) & 1) * 16;
    const float want =
        1.0f * kScale[sub] * (FourBitCode(v) + high) - 0.5f * kMin[sub];
    ASSERT_EQ(x[v], want) << v;
  }
}

TEST(KQuantsTest, DequantizeQ6_K) {
  Bytes b;
  for (int i = 0; i < 128; ++i)
    b.push_back(static_cast<uint8_t>((i % 16) | (15 - i % 16) << 4));
  for (int i = 0; i < 64; ++i) b.push_back(static_cast<uint8_t>(i * 37));
  for (int i = 0; i < 16; ++i) {
    b.push_back(
        static_cast<uint8_t>(static_cast<int8_t>(i % 2 ? -(i + 1) : i + 1)));
  }
  b.insert(b.end(), {0x00, 0x34});  // d = 0.25
  std::vector<float> x = Deq(GgmlType::kQ6_K, b);
  EXPECT_EQ(x[0], -8.0f);      // ql[0] low 0, qh[0] bits 0: (0 - 32) * 1
  EXPECT_EQ(x[45], -14.25f);   // ql[45] low 13, qh[13]=225 bits 2-3 = 0,
                               // scale 3: 0.25 * 3 * -19
  EXPECT_EQ(x[77], 2.5f);      // ql[13] high 2, qh[13] bits 4-5 = 2: 34 - 32
  EXPECT_EQ(x[200], -81.25f);  // ql[72] high 7, qh[40]=200 bits 4-5 = 0,
                               // scale 13: 0.25 * 13 * -25
  EXPECT_EQ(x[255], 128.0f);   // ql[127] high 0, qh[63]=27 bits 6-7 = 0,
                               // scale -16: 0.25 * -16 * -32
  for (int v = 0; v < 256; ++v) {
    const int half = v / 128, group = (v % 128) / 32, l = v % 32;
    const int ql = 64 * half + 32 * (group % 2) + l;
    const int low = group < 2 ? ql % 16 : 15 - ql % 16;
    const int high = ((32 * half + l) * 37 % 256 >> (2 * group)) & 3;
    const int sub = v / 16;
    const int scale = sub % 2 ? -(sub + 1) : sub + 1;
    ASSERT_EQ(x[v], 0.25f * scale * ((low | high << 4) - 32)) << v;
  }
}

TEST(KQuantsTest, DequantizeQ8_K) {
  Bytes b(4);
  const float d = 0.25f;
  std::memcpy(b.data(), &d, 4);
  for (int i = 0; i < 256; ++i) b.push_back(static_cast<uint8_t>(i - 128));
  b.insert(b.end(), 32, 0);  // bsums: not used for dequantisation
  std::vector<float> x = Deq(GgmlType::kQ8_K, b);
  EXPECT_EQ(x[0], -32.0f);
  EXPECT_EQ(x[255], 31.75f);
  for (int v = 0; v < 256; ++v) ASSERT_EQ(x[v], 0.25f * (v - 128)) << v;
}

TEST(KQuantsTest, SecondSuperBlockUsesItsOwnScale) {
  // Two Q4_K blocks that differ only in d: the second must read its own.
  Bytes b = {0x00, 0x3C, 0x00, 0x00};  // d = 1.0, dmin = 0
  b.insert(b.end(), kPackedScales.begin(), kPackedScales.end());
  Bytes qs = FourBitCodes();
  b.insert(b.end(), qs.begin(), qs.end());
  Bytes two = b;
  two.insert(two.end(), b.begin(), b.end());
  two[144 + 1] = 0x40;  // second d = 2.0
  std::vector<float> x(512);
  ASSERT_TRUE(Dequantize(GgmlType::kQ4_K, two.data(), x.data(), 512).ok());
  for (int v = 0; v < 256; ++v) ASSERT_EQ(x[256 + v], 2.0f * x[v]) << v;
  EXPECT_EQ(x[256 + 255], 1800.0f);  // 2 * 60 * 15
}

}  // namespace
}  // namespace tessera::model
