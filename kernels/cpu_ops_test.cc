// The per-ISA kernels against plain double-precision sums, and the float
// ops against model/reference_ops.h. Every ISA compiled in and runnable on
// this machine is tested; the others are skipped with the reason.
#include "kernels/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/cpu_ops_matmul.h"
#include "kernels/cpu_ops_quant.h"
#include "kernels/q4_tiles.h"
#include "kernels/simd.h"
#include "model/ggml_types.h"
#include "model/reference_ops.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// A matrix in `format` plus its exact dequantised values.
struct TestMatrix {
  TestMatrix(GgmlType format, int64_t rows, int64_t cols, uint32_t seed)
      : values(Random(rows * cols, seed, 0.05f)) {
    const int64_t row_bytes = *model::RowBytes(format, cols);
    bytes.resize(row_bytes * rows);
    EXPECT_TRUE(
        model::Quantize(format, values.data(), bytes.data(), rows * cols).ok());
    EXPECT_TRUE(
        model::Dequantize(format, bytes.data(), values.data(), rows * cols)
            .ok());
    ref = {format, rows, cols, row_bytes, bytes.data()};
  }
  std::vector<float> values;
  std::vector<uint8_t> bytes;
  MatrixRef ref;
};

// y[n][r] = sum_k w[r][k] x[n][k] in double.
std::vector<double> Product(const std::vector<float>& w,
                            const std::vector<float>& x, int64_t rows,
                            int64_t cols, int64_t n) {
  std::vector<double> y(n * rows);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t k = 0; k < cols; ++k)
        s += double(w[r * cols + k]) * x[i * cols + k];
      y[i * rows + r] = s;
    }
  }
  return y;
}

// The activations as the integer kernels see them: q * d.
std::vector<float> Dequantized(const QuantizedRows& q) {
  std::vector<float> x(q.rows * q.cols);
  for (int64_t i = 0; i < q.rows * q.cols; ++i) {
    x[i] = q.qs[i] * q.scales[i / 32];
  }
  return x;
}

void ExpectClose(const std::vector<float>& got, const std::vector<double>& want,
                 double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * scale + 1e-7) << what << " at " << i;
  }
}

class KernelTest : public ::testing::TestWithParam<CpuIsa> {
 protected:
  void SetUp() override {
    if (!IsaAvailable(GetParam())) {
      GTEST_SKIP() << IsaName(GetParam())
                   << " kernels cannot run on this machine";
    }
  }
  const CpuKernels& kernels() const { return GetCpuKernels(GetParam()); }
  int32_t Offset(GgmlType f) const {
    return f == GgmlType::kQ4_0 ? kernels().q4_0_offset : kernels().q8_0_offset;
  }
  bool Stream(GgmlType f) const {
    return f == GgmlType::kQ4_0 && kernels().q4_0_stream;
  }
  // quant_gemm with a 64-byte aligned scratch panel.
  void RunGemm(const MatrixRef& w, int64_t r0, int64_t r1,
               const QuantizedRows& x, float* y, int64_t y_stride,
               bool accumulate) const {
    std::vector<uint8_t> scratch(kernels().gemm_scratch_bytes(w.cols) + 64);
    uint8_t* panel =
        scratch.data() +
        (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
    kernels().quant_gemm(w, r0, r1, x, y, y_stride, accumulate, panel);
  }
};

TEST_P(KernelTest, QuantMatVecIsExactForQuantisedActivations) {
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (int64_t cols : {32, 96, 160, 224, 288, 2048}) {
      TestMatrix w(format, 37, cols, 1);
      for (int64_t n = 1; n <= kMaxMatVecRows; ++n) {
        const std::vector<float> x = Random(n * cols, 2);
        QuantizedActivations q;
        q.Quantize(x.data(), n, cols, cols, Offset(format), Stream(format),
                   nullptr);
        std::vector<float> y(n * 37, 0.0f);
        // Two ranges, to check that r0/r1 are honoured.
        kernels().quant_matvec(w.ref, 0, 20, q.rows(), y.data(), 37, false);
        kernels().quant_matvec(w.ref, 20, 37, q.rows(), y.data(), 37, false);
        ExpectClose(y, Product(w.values, Dequantized(q.rows()), 37, cols, n),
                    1e-5,
                    absl::StrCat(TypeName(format), " cols ", cols, " n ", n));
      }
    }
  }
}

// Q4_0 matrices in the tile layout (q4_tiles.h), on ISAs whose kernels take
// it: row lengths of one partial tile, one full tile, full tiles with a
// partial one, and tinyllama's FFN width; decode with 1-4 activation rows
// (two ranges, odd row counts for the two-stream pairing, accumulation)
// and the prefill gemm.
TEST_P(KernelTest, TiledQ4_0MatchesExactProducts) {
  if (!kernels().q4_0_tiles) GTEST_SKIP() << "no Q4_0 tile kernels";
  const int64_t rows = 37;
  for (int64_t cols : {32, 512, 896, 1280, 5632}) {
    TestMatrix w(GgmlType::kQ4_0, rows, cols, 11);
    const int64_t blocks = cols / 32;
    std::vector<uint8_t> tiled(w.bytes.size());
    for (int64_t r = 0; r < rows; ++r) {
      TileQ4Row(w.bytes.data() + r * w.ref.row_bytes, blocks,
                tiled.data() + r * w.ref.row_bytes);
    }
    MatrixRef ref = w.ref;
    ref.data = tiled.data();
    ref.q4_tiled = true;
    for (int64_t n = 1; n <= kMaxMatVecRows; ++n) {
      const std::vector<float> x = Random(n * cols, 12);
      QuantizedActivations q;
      q.Quantize(x.data(), n, cols, cols, Offset(GgmlType::kQ4_0),
                 /*stream=*/false, nullptr, /*tiles=*/true);
      const std::vector<double> want =
          Product(w.values, Dequantized(q.rows()), rows, cols, n);
      std::vector<float> y(n * rows, 0.0f);
      kernels().quant_matvec(ref, 0, 20, q.rows(), y.data(), rows, false);
      kernels().quant_matvec(ref, 20, rows, q.rows(), y.data(), rows, false);
      ExpectClose(y, want, 1e-5, absl::StrCat("cols ", cols, " n ", n));
      kernels().quant_matvec(ref, 0, rows, q.rows(), y.data(), rows, true);
      std::vector<double> twice = want;
      for (double& v : twice) v *= 2;
      ExpectClose(y, twice, 1e-5, absl::StrCat("accumulated, cols ", cols));
    }
    for (int64_t n : {8, 13}) {
      const std::vector<float> x = Random(n * cols, 13);
      QuantizedActivations q;
      q.Quantize(x.data(), n, cols, cols, Offset(GgmlType::kQ4_0), false,
                 nullptr);
      std::vector<float> y(n * rows, 1.0f);
      RunGemm(ref, 0, 32, q.rows(), y.data(), rows, false);
      RunGemm(ref, 32, rows, q.rows(), y.data(), rows, false);
      ExpectClose(y, Product(w.values, Dequantized(q.rows()), rows, cols, n),
                  1e-5, absl::StrCat("gemm cols ", cols, " n ", n));
    }
  }
}

// Activation-row counts that reach every tail of the gemm kernels' register
// tiles (up to 8 rows) and several whole tiles.
const int64_t kGemmBatchRows[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 20, 37, 128};

struct AlignedDelete {
  void operator()(uint8_t* p) const {
    ::operator delete[](p, std::align_val_t{64});
  }
};

// Weights straight from a memory map start wherever the file puts them:
// every row offset within a cache line (even and odd), row lengths with and
// without whole 4-block groups, and rows that end at the very end of their
// allocation (so reads past a row would be caught by sanitizers). Seven
// rows: kernels that read two rows side by side (row i beside row 3 + i)
// then pair rows of different alignments (5632 columns: 3168-byte rows)
// and leave one row over.
TEST_P(KernelTest, QuantMatVecReadsRowsAtAnyAlignment) {
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (int64_t cols : {32, 288, 896, 1056, 5632}) {
      const int64_t rows = 7;
      TestMatrix w(format, rows, cols, 4);
      const int64_t bytes = w.ref.row_bytes * rows;
      for (int64_t shift : {0, 2, 8, 30, 32, 33, 62}) {
        // A 64-byte aligned allocation that ends where the last row ends.
        std::unique_ptr<uint8_t[], AlignedDelete> buffer(
            new (std::align_val_t{64}) uint8_t[shift + bytes]);
        uint8_t* base = buffer.get() + shift;
        std::memcpy(base, w.bytes.data(), bytes);
        MatrixRef ref = w.ref;
        ref.data = base;
        const int64_t n = 1 + (cols / 32 + shift) % kMaxMatVecRows;
        const std::vector<float> x = Random(n * cols, 6);
        QuantizedActivations q;
        q.Quantize(x.data(), n, cols, cols, Offset(format), Stream(format),
                   nullptr);
        std::vector<float> y(n * rows, 0.0f);
        kernels().quant_matvec(ref, 0, rows, q.rows(), y.data(), rows, false);
        ExpectClose(y, Product(w.values, Dequantized(q.rows()), rows, cols, n),
                    1e-5,
                    absl::StrCat(TypeName(format), " cols ", cols, " shift ",
                                 shift, " n ", n));
      }
    }
  }
}

TEST_P(KernelTest, QuantGemmMatchesExactProducts) {
  if (kernels().quant_gemm == nullptr) GTEST_SKIP() << "no gemm kernel";
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    for (int64_t cols : {32, 160, 2048}) {
      TestMatrix w(format, 45, cols, 3);  // two whole panels and 13 rows
      for (int64_t n : kGemmBatchRows) {
        const std::vector<float> x = Random(n * cols, 4);
        QuantizedActivations q;
        q.Quantize(x.data(), n, cols, cols, Offset(format), false, nullptr);
        std::vector<float> y(n * 45, 1.0f);
        // Two ranges, to check that r0/r1 are honoured.
        RunGemm(w.ref, 0, 32, q.rows(), y.data(), 45, false);
        RunGemm(w.ref, 32, 45, q.rows(), y.data(), 45, false);
        ExpectClose(y, Product(w.values, Dequantized(q.rows()), 45, cols, n),
                    1e-5,
                    absl::StrCat(TypeName(format), " cols ", cols, " n ", n));
      }
    }
  }
}

TEST_P(KernelTest, QuantGemmAccumulatesAndLeavesStridePaddingAlone) {
  if (kernels().quant_gemm == nullptr) GTEST_SKIP() << "no gemm kernel";
  const int64_t rows = 21, stride = 30, cols = 96;  // a 5-row panel tail
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    TestMatrix w(format, rows, cols, 18);
    for (bool accumulate : {false, true}) {
      for (int64_t n : kGemmBatchRows) {
        const std::vector<float> x = Random(n * cols, 19);
        QuantizedActivations q;
        q.Quantize(x.data(), n, cols, cols, Offset(format), false, nullptr);
        std::vector<float> y(n * stride);
        for (size_t i = 0; i < y.size(); ++i) y[i] = 0.25f * (i % 7);
        const std::vector<float> before = y;
        RunGemm(w.ref, 0, rows, q.rows(), y.data(), stride, accumulate);
        const std::vector<double> product =
            Product(w.values, Dequantized(q.rows()), rows, cols, n);
        std::vector<double> want(before.begin(), before.end());
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t r = 0; r < rows; ++r) {
            double& v = want[i * stride + r];
            v = (accumulate ? v : 0.0) + product[i * rows + r];
          }
        }
        ExpectClose(y, want, 1e-5,
                    absl::StrCat(TypeName(format), " accumulate ", accumulate,
                                 " n ", n));
      }
    }
  }
}

// Weights and activations at the ends of their ranges, where 16-bit
// intermediate sums (vpmaddubsw pairs, Q4_0 sums over a block) are closest
// to saturating: Q8_0 |w| = 127 and Q4_0 nibbles 0 / 15, against
// activations of +-127.
TEST_P(KernelTest, QuantKernelsAreExactAtExtremeValues) {
  const int64_t rows = 19, cols = 128;
  for (GgmlType format : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    const bool q4 = format == GgmlType::kQ4_0;
    const int64_t block_bytes = q4 ? 18 : 34;
    std::vector<uint8_t> bytes(rows * cols / 32 * block_bytes);
    for (int64_t b = 0; b < rows * cols / 32; ++b) {
      uint8_t* blk = bytes.data() + b * block_bytes;
      const uint16_t d = simd::FloatToHalf(0.01f * (1 + b % 3));
      std::memcpy(blk, &d, 2);
      // Whole blocks of one extreme, alternating by block and row.
      const bool high = (b + b / (cols / 32)) % 2 == 0;
      for (int64_t k = 2; k < block_bytes; ++k) {
        blk[k] = q4 ? (high ? 0xff : 0x00) : (high ? 127 : 0x81);  // -127
      }
    }
    std::vector<float> values(rows * cols);
    ASSERT_TRUE(
        model::Dequantize(format, bytes.data(), values.data(), rows * cols)
            .ok());
    const MatrixRef w{format, rows, cols, cols / 32 * block_bytes,
                      bytes.data()};
    const int64_t n = 11;
    std::vector<float> x(n * cols);
    for (int64_t i = 0; i < n * cols; ++i) {
      x[i] = (i / 32 + i / cols) % 2 == 0 ? 1.0f : -1.0f;  // q = +-127
    }
    QuantizedActivations q;
    q.Quantize(x.data(), n, cols, cols, Offset(format), false, nullptr);
    const std::vector<double> want =
        Product(values, Dequantized(q.rows()), rows, cols, n);
    if (kernels().quant_gemm != nullptr) {
      std::vector<float> y(n * rows, 0.0f);
      RunGemm(w, 0, rows, q.rows(), y.data(), rows, false);
      ExpectClose(y, want, 1e-5, absl::StrCat(TypeName(format), " gemm"));
    }
    QuantizedActivations decode;
    decode.Quantize(x.data(), kMaxMatVecRows, cols, cols, Offset(format),
                    Stream(format), nullptr);
    std::vector<float> y(kMaxMatVecRows * rows, 0.0f);
    kernels().quant_matvec(w, 0, rows, decode.rows(), y.data(), rows, false);
    ExpectClose(
        y,
        std::vector<double>(want.begin(), want.begin() + kMaxMatVecRows * rows),
        1e-5, absl::StrCat(TypeName(format), " matvec"));
  }
}

TEST_P(KernelTest, FloatMatMulMatchesExactProducts) {
  for (GgmlType format : {GgmlType::kF32, GgmlType::kF16}) {
    for (int64_t cols : {8, 64, 172}) {
      TestMatrix w(format, 5, cols, 5);
      for (int64_t n : {1, 3, 6}) {
        const std::vector<float> x = Random(n * cols, 6);
        std::vector<float> y(n * 5, 0.0f);
        kernels().float_matmul(w.ref, 0, 5, x.data(), n, cols, y.data(), 5,
                               false);
        ExpectClose(y, Product(w.values, x, 5, cols, n), 1e-5,
                    absl::StrCat(TypeName(format), " cols ", cols, " n ", n));
      }
    }
  }
}

TEST_P(KernelTest, RunnerSplitsJobsAcrossThreadsAndAccumulates) {
  ThreadPool pool(3);
  MatMulRunner runner(kernels(), pool);
  const int64_t cols = 256;
  for (GgmlType format :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    TestMatrix a(format, 300, cols, 7), b(format, 70, cols, 8);
    for (int64_t n : {1, 3, 8, 40}) {
      const std::vector<float> x = Random(n * cols, 9);
      std::vector<float> ya(n * 300, 0.0f), yb(n * 70, 0.5f);
      const MatMulJob jobs[] = {{a.ref, ya.data(), 300},
                                {b.ref, yb.data(), 70, true}};
      runner.Run(jobs, x.data(), n, cols);
      std::vector<double> want_b = Product(b.values, x, 70, cols, n);
      for (double& v : want_b) v += 0.5;
      // Against exact activations: 8-bit activations cost ~1% per value.
      const double rel =
          format == GgmlType::kQ8_0 || format == GgmlType::kQ4_0 ? 2e-2 : 1e-5;
      ExpectClose(ya, Product(a.values, x, 300, cols, n), rel, "job a");
      ExpectClose(yb, want_b, rel, "job b (accumulated)");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, KernelTest,
                         ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2,
                                           CpuIsa::kAvxVnni,
                                           CpuIsa::kAvx512Vnni, CpuIsa::kNeon,
                                           CpuIsa::kNeonDotProd),
                         [](const auto& info) {
                           std::string name = IsaName(info.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(QuantizeRowTest, BlocksScaleToTheirMaximumAndCarryCorrections) {
  std::vector<float> x = Random(64, 10);
  x[5] = 3.0f;  // the first block's maximum
  std::vector<int8_t> q(64);
  float scales[2];
  int32_t block_corr[2], quad_corr[16];
  QuantizeRow(x.data(), 64, 8, q.data(), scales, block_corr, quad_corr);
  EXPECT_FLOAT_EQ(scales[0], 3.0f / 127);
  EXPECT_EQ(q[5], 127);
  for (int b = 0; b < 2; ++b) {
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int8_t v = q[b * 32 + j];
      EXPECT_NEAR(v * scales[b], x[b * 32 + j], scales[b] / 2 + 1e-7);
      sum += v;
    }
    EXPECT_EQ(block_corr[b], -8 * sum);
  }
  for (int k = 0; k < 16; ++k) {
    EXPECT_EQ(quad_corr[k],
              -8 * (q[4 * k] + q[4 * k + 1] + q[4 * k + 2] + q[4 * k + 3]));
  }
  std::vector<float> zeros(32, 0.0f);
  QuantizeRow(zeros.data(), 32, 8, q.data(), scales, block_corr, quad_corr);
  EXPECT_EQ(scales[0], 0.0f);
  EXPECT_EQ(q[0], 0);
}

TEST(QuantizedActivationsTest, StreamLayoutMeetsTheQ4_0ByteStream) {
  // 41 blocks: one whole superblock and one of 9 blocks.
  const int64_t blocks = 41, cols = blocks * 32, n = 2;
  const std::vector<float> x = Random(n * cols, 17);
  QuantizedActivations q;
  q.Quantize(x.data(), n, cols, cols, 8, /*stream=*/true, nullptr);
  const QuantizedRows& r = q.rows();
  ASSERT_EQ(r.supers, 2);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t s = 0; s < r.supers; ++s) {
      const uint8_t* sb = r.stream + (row * r.supers + s) * kQ4StreamBytes;
      const auto* lo = reinterpret_cast<const int8_t*>(sb + kQ4StreamLo);
      const auto* hi = reinterpret_cast<const int8_t*>(sb + kQ4StreamHi);
      const auto* corr = reinterpret_cast<const int32_t*>(sb + kQ4StreamCorr);
      const auto* scale = reinterpret_cast<const float*>(sb + kQ4StreamScale);
      for (int64_t p = 0; p < kQ4StreamWeightBytes; ++p) {
        const int64_t block = s * 32 + p / 18, j = p % 18 - 2;
        int8_t want_lo = 0, want_hi = 0;
        if (block < blocks && j >= 0) {
          want_lo = r.qs[row * cols + block * 32 + j];
          want_hi = r.qs[row * cols + block * 32 + 16 + j];
        }
        ASSERT_EQ(lo[p], want_lo) << "row " << row << " byte " << p;
        ASSERT_EQ(hi[p], want_hi) << "row " << row << " byte " << p;
      }
      for (int64_t lane = 0; lane < kQ4StreamWeightBytes / 4; ++lane) {
        int32_t sum = 0;
        for (int64_t t = 0; t < 4; ++t)
          sum += lo[4 * lane + t] + hi[4 * lane + t];
        EXPECT_EQ(corr[lane], -8 * sum);
        const int64_t block = s * 32 + 4 * lane / 18;
        EXPECT_EQ(scale[lane],
                  block < blocks ? r.scales[row * blocks + block] : 0.0f);
      }
    }
  }
  q.Quantize(x.data(), n, cols, cols, 8, /*stream=*/false, nullptr);
  EXPECT_EQ(q.rows().stream, nullptr);
}

TEST(CpuOpsTest, RmsNormMatchesReference) {
  const std::vector<float> x = Random(100, 11), w = Random(100, 12);
  std::vector<float> got(100), want(100);
  RmsNorm(x.data(), w.data(), 100, 1e-5f, got.data());
  model::ref::RmsNorm(x.data(), w.data(), 100, 1e-5f, want.data());
  for (int i = 0; i < 100; ++i)
    EXPECT_NEAR(got[i], want[i], 1e-6f * (1 + std::fabs(want[i])));
}

TEST(CpuOpsTest, RopeMatchesReferenceInBothPairings) {
  for (bool neox : {false, true}) {
    for (int64_t rope_dim : {8, 6}) {  // 6: part of each 8-wide head unrotated
      const int64_t heads = 3, head_dim = 8, position = 37;
      std::vector<float> got = Random(heads * head_dim, 13), want = got;
      const std::vector<double> inv_freq =
          RopeInverseFrequencies(rope_dim, 10000.0f);
      std::vector<float> cos_sin(rope_dim);
      RopeAngles(inv_freq, position, cos_sin.data());
      ApplyRope(got.data(), heads, head_dim, rope_dim, cos_sin.data(), neox);
      for (int64_t h = 0; h < heads; ++h) {
        model::ref::Rope(want.data() + h * head_dim, rope_dim, position,
                         10000.0f, neox);
      }
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_FLOAT_EQ(got[i], want[i]) << i;
    }
  }
}

// Groups below and above the kernels' four heads per pass; head sizes with a
// scalar tail and with more columns than one pass keeps in registers.
TEST(CpuOpsTest, AttentionMatchesReferenceForF32AndF16Caches) {
  for (auto [group, head_dim] : {std::pair<int64_t, int64_t>{3, 16},
                                 {3, 24},
                                 {6, 80},
                                 {8, 64},
                                 {1, 136}}) {
    SCOPED_TRACE(absl::StrCat("group ", group, ", head_dim ", head_dim));
    for (GgmlType type : {GgmlType::kF32, GgmlType::kF16}) {
      const int64_t kv_dim = 2 * head_dim, length = 150;
      KvCache cache(2, kv_dim, type, 1 << 24);
      ASSERT_TRUE(cache.Reserve({{7, length}}).ok());
      const std::vector<float> keys = Random(length * kv_dim, 14);
      const std::vector<float> values = Random(length * kv_dim, 15);
      std::vector<float> rounded_k = keys, rounded_v = values;
      for (int64_t t = 0; t < length; ++t) {
        cache.Store(7, 1, t, keys.data() + t * kv_dim,
                    values.data() + t * kv_dim);
      }
      if (type == GgmlType::kF16) {
        for (float& r : rounded_k) r = simd::HalfToFloat(simd::FloatToHalf(r));
        for (float& r : rounded_v) r = simd::HalfToFloat(simd::FloatToHalf(r));
      }
      const std::vector<float> q = Random(group * head_dim, 16);
      std::vector<float> scores(group * length), got(group * head_dim),
          want(head_dim);
      AttendGroup(q.data(), group, head_dim, cache.View(7, 1), head_dim, length,
                  scores.data(), got.data());
      for (int64_t g = 0; g < group; ++g) {
        model::ref::Attention(
            q.data() + g * head_dim, rounded_k.data() + head_dim,
            rounded_v.data() + head_dim, length, head_dim, kv_dim, want.data());
        for (int64_t d = 0; d < head_dim; ++d) {
          EXPECT_NEAR(got[g * head_dim + d], want[d], 1e-5) << g << "," << d;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera::kernels
