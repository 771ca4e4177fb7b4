// Each OpenCL op against a straightforward host computation.
#include "kernels/opencl_ops.h"

#include <cmath>
#include <ostream>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu_ops_quant.h"
#include "kernels/opencl_kernels.h"
#include "kernels/opencl_program_cache.h"
#include "kernels/opencl_testing.h"
#include "model/ggml_types.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

std::vector<float> RandomVector(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A rows x cols matrix quantised into `format` (GGUF layout), and its exact
// dequantised values.
struct HostMatrix {
  ExecMatrix exec;
  std::vector<float> values;
};

HostMatrix MakeMatrix(GgmlType format, int64_t rows, int64_t cols,
                      uint32_t seed) {
  HostMatrix m;
  std::vector<float> source = RandomVector(rows * cols, seed);
  m.exec.name = "test";
  m.exec.format = format;
  m.exec.rows = rows;
  m.exec.cols = cols;
  m.exec.row_bytes = *model::RowBytes(format, cols);
  m.exec.bytes = m.exec.row_bytes * rows;
  m.exec.storage = *LargePageBuffer::Allocate(m.exec.bytes);
  m.values.resize(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = m.exec.storage.data() + r * m.exec.row_bytes;
    EXPECT_TRUE(model::Quantize(format, &source[r * cols], row, cols).ok());
    EXPECT_TRUE(model::Dequantize(format, row, &m.values[r * cols], cols).ok());
  }
  m.exec.data = m.exec.storage.data();
  return m;
}

// x as one-lane Q4_0 decode multiplies it on x86-64 CPU devices with
// AVX-512BW (matvec_q4_0.cl): quantised per 32-element block as the CPU
// backend's QuantizeRow does, then scaled back. REQUIRES: x.size() % 32 == 0.
std::vector<float> Int8RoundTrip(const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<int8_t> qs(n);
  std::vector<float> scales(n / 32);
  std::vector<int32_t> block_corr(n / 32), quad_corr(n / 4);
  QuantizeRow(x.data(), n, /*offset=*/0, qs.data(), scales.data(),
              block_corr.data(), quad_corr.data());
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = qs[i] * scales[i / 32];
  return out;
}

// Parameter: the kernels' build. Device: the device's own geometry (one lane
// on CPU drivers); DeviceFloat: the same with float activations throughout;
// Lanes4: the multi-lane GPU code paths with their reductions.
struct Build {
  const char* name;
  int forced_lanes;
  bool float_activations;
};
void PrintTo(const Build& build, std::ostream* os) { *os << build.name; }

class OpenClOpsTest : public ::testing::TestWithParam<Build> {
 protected:
  void SetUp() override {
    auto context = testing::DefaultContext();
    status_ = context.status();
    if (!context.ok()) return;
    context_ = std::move(*context);
    cache_ = std::make_unique<OpenClProgramCache>(
        context_.get(), OpenClProgramCache::DefaultDir());
    auto kernels = OpenClKernels::Create(context_.get(), cache_.get(),
                                         GetParam().forced_lanes,
                                         GetParam().float_activations);
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
  cl_mem UploadInts(const std::vector<int32_t>& values) {
    auto mem = context_->CreateBuffer(values.size() * 4);
    EXPECT_TRUE(mem.ok());
    EXPECT_TRUE(
        context_->Write(mem->get(), 0, values.size() * 4, values.data(), true)
            .ok());
    buffers_.push_back(std::move(*mem));
    return buffers_.back().get();
  }
  std::vector<float> Download(cl_mem mem, size_t n) {
    std::vector<float> out(n);
    EXPECT_TRUE(context_->Read(mem, 0, n * 4, out.data()).ok());
    return out;
  }

  // Checks W x for `tokens` rows (optionally accumulating) against the host.
  void CheckMatMul(GgmlType format, int64_t rows, int64_t cols, int64_t tokens,
                   int64_t max_buffer_bytes = 0) {
    SCOPED_TRACE(absl::StrCat(model::TypeName(format), " ", rows, "x", cols,
                              " tokens=", tokens,
                              " max_buffer=", max_buffer_bytes));
    HostMatrix m = MakeMatrix(format, rows, cols, 7 + rows + cols);
    context_->set_max_buffer_bytes(max_buffer_bytes);
    const ExecMatrix* parts[] = {&m.exec};
    absl::StatusOr<DeviceMatrix> w = UploadMatrix(*context_, "w", parts);
    context_->set_max_buffer_bytes(0);
    ASSERT_TRUE(w.ok()) << w.status();
    if (max_buffer_bytes > 0) {
      EXPECT_GT(w->chunks.size(), 1u);
    }
    std::vector<float> x = RandomVector(tokens * cols, 99);
    cl_mem y = Upload(RandomVector(tokens * rows, 5));
    ASSERT_TRUE(ops_->MatMul(*w, Upload(x), cols, tokens, y, rows).ok());
    std::vector<float> got = Download(y, tokens * rows);
    // One-lane Q4_0 decode may take x in int8 (see Int8RoundTrip): each
    // result must then be that of exact arithmetic on the rounded x.
    const bool int8_x_allowed = format == GgmlType::kQ4_0 && tokens == 1 &&
                                kernels_->single_lane() &&
                                !kernels_->float_activations();
    const std::vector<float> x8 =
        int8_x_allowed ? Int8RoundTrip(x) : std::vector<float>();
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        const double want = Dot(&m.values[r * cols], &x[t * cols], cols);
        const double tolerance = 1e-4 * (1 + std::abs(want));
        if (int8_x_allowed && std::abs(got[t * rows + r] - want) > tolerance) {
          const double want8 = Dot(&m.values[r * cols], &x8[t * cols], cols);
          ASSERT_NEAR(got[t * rows + r], want8, 1e-4 * (1 + std::abs(want8)))
              << "token " << t << " row " << r << " (x in int8)";
          continue;
        }
        ASSERT_NEAR(got[t * rows + r], want, tolerance)
            << "token " << t << " row " << r;
      }
    }
  }

  static double Dot(const float* w, const float* x, int64_t n) {
    double sum = 0.0;
    for (int64_t c = 0; c < n; ++c) sum += static_cast<double>(w[c]) * x[c];
    return sum;
  }

  absl::Status status_;
  std::unique_ptr<OpenClContext> context_;
  std::unique_ptr<OpenClProgramCache> cache_;
  std::unique_ptr<OpenClKernels> kernels_;
  std::unique_ptr<OpenClOps> ops_;
  std::vector<ClMem> buffers_;
};

TEST_P(OpenClOpsTest, MatVecEveryFormat) {
  TESSERA_REQUIRE_OPENCL(status_);
  for (GgmlType f :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    CheckMatMul(f, 37, 256, 1);
    CheckMatMul(f, 9, 224, 1);  // 7 blocks: a group of 4 and 3 singles
    // Several work-groups, the last one partial; 33 blocks per row.
    CheckMatMul(f, 150, 1056, 1);
    // One-lane Q4_0 decode takes groups of about rows / (2 * compute
    // units): wider than 64 rows here, the last one partial.
    CheckMatMul(f, 1000, 160, 1);
  }
}

TEST_P(OpenClOpsTest, MatMulTilesWithRemainder) {
  TESSERA_REQUIRE_OPENCL(status_);
  for (GgmlType f :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    CheckMatMul(f, 19, 96, 7);   // 3 blocks per row: single blocks only
    CheckMatMul(f, 11, 192, 6);  // 6 blocks: a group of 4 and 2 singles
    CheckMatMul(f, 8, 64, 4);
  }
}

TEST_P(OpenClOpsTest, FloatRowsOfAnyWidth) {
  TESSERA_REQUIRE_OPENCL(status_);
  CheckMatMul(GgmlType::kF16, 64, 172, 1);  // stories260K's ffn_down
  CheckMatMul(GgmlType::kF32, 5, 13, 3);
}

TEST_P(OpenClOpsTest, SplitMatricesGiveTheSameResult) {
  TESSERA_REQUIRE_OPENCL(status_);
  // 100 rows of 64 Q8_0 values are 64 data bytes each: 1000-byte buffers
  // hold 15 rows, so the matrix spans 7 buffers.
  CheckMatMul(GgmlType::kQ8_0, 100, 64, 1, 1000);
  CheckMatMul(GgmlType::kQ4_0, 100, 64, 5, 1000);
  CheckMatMul(GgmlType::kQ4_0, 100, 64, 1, 1000);  // decode, block sums
  CheckMatMul(GgmlType::kF32, 50, 40, 2, 1000);
}

TEST_P(OpenClOpsTest, StackedPartsAreConcatenatedByRows) {
  TESSERA_REQUIRE_OPENCL(status_);
  HostMatrix a = MakeMatrix(GgmlType::kQ4_0, 3, 64, 1);
  HostMatrix b = MakeMatrix(GgmlType::kQ4_0, 5, 64, 2);
  const ExecMatrix* parts[] = {&a.exec, &b.exec};
  absl::StatusOr<DeviceMatrix> w = UploadMatrix(*context_, "ab", parts);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->rows, 8);
  // Values int8 represents exactly, so that decode's int8 path (see
  // Int8RoundTrip) gives the exact product too.
  std::vector<float> x = Int8RoundTrip(RandomVector(64, 3));
  cl_mem y = Upload(std::vector<float>(8));
  ASSERT_TRUE(ops_->MatMul(*w, Upload(x), 64, 1, y, 8).ok());
  std::vector<float> got = Download(y, 8);
  for (int r = 0; r < 8; ++r) {
    const std::vector<float>& v = r < 3 ? a.values : b.values;
    const int local = r < 3 ? r : r - 3;
    double want = 0;
    for (int c = 0; c < 64; ++c) want += v[local * 64 + c] * x[c];
    EXPECT_NEAR(got[r], want, 1e-4) << r;
  }
}

TEST_P(OpenClOpsTest, MismatchedPartsAreRejected) {
  TESSERA_REQUIRE_OPENCL(status_);
  HostMatrix a = MakeMatrix(GgmlType::kQ8_0, 2, 64, 1);
  HostMatrix b = MakeMatrix(GgmlType::kQ8_0, 2, 96, 2);
  HostMatrix c = MakeMatrix(GgmlType::kF16, 2, 64, 3);
  const ExecMatrix* cols[] = {&a.exec, &b.exec};
  const ExecMatrix* formats[] = {&a.exec, &c.exec};
  EXPECT_TRUE(
      absl::IsInvalidArgument(UploadMatrix(*context_, "x", cols).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(UploadMatrix(*context_, "x", formats).status()));
  context_->set_max_buffer_bytes(32);  // less than one 64-byte row
  const ExecMatrix* one[] = {&a.exec};
  EXPECT_TRUE(
      absl::IsResourceExhausted(UploadMatrix(*context_, "x", one).status()));
}

TEST_P(OpenClOpsTest, GetRowsEveryFormatAndChunks) {
  TESSERA_REQUIRE_OPENCL(status_);
  for (GgmlType f :
       {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    SCOPED_TRACE(model::TypeName(f));
    HostMatrix m = MakeMatrix(f, 40, 64, 11);
    context_->set_max_buffer_bytes(600);  // several buffers
    const ExecMatrix* parts[] = {&m.exec};
    absl::StatusOr<DeviceMatrix> table = UploadMatrix(*context_, "emb", parts);
    context_->set_max_buffer_bytes(0);
    ASSERT_TRUE(table.ok()) << table.status();
    const std::vector<int32_t> tokens = {39, 0, 17, 17, 5};
    cl_mem out = Upload(std::vector<float>(tokens.size() * 64));
    ASSERT_TRUE(
        ops_->GetRows(*table, UploadInts(tokens), tokens.size(), out).ok());
    std::vector<float> got = Download(out, tokens.size() * 64);
    for (size_t i = 0; i < tokens.size(); ++i) {
      for (int c = 0; c < 64; ++c) {
        ASSERT_EQ(got[i * 64 + c], m.values[tokens[i] * 64 + c])
            << i << "," << c;
      }
    }
  }
}

TEST_P(OpenClOpsTest, RmsNormAndGather) {
  TESSERA_REQUIRE_OPENCL(status_);
  const int64_t dim = 100, n = 3;
  std::vector<float> x = RandomVector(n * dim, 1, 3.0f);
  std::vector<float> w = RandomVector(dim, 2);
  cl_mem xb = Upload(x), wb = Upload(w);
  cl_mem out = Upload(std::vector<float>(n * dim));
  ASSERT_TRUE(ops_->RmsNorm(xb, wb, out, dim, 1e-5f, n).ok());
  std::vector<float> got = Download(out, n * dim);
  cl_mem gathered = Upload(std::vector<float>(2 * dim));
  ASSERT_TRUE(
      ops_->RmsNormGather(xb, UploadInts({2, 0}), wb, gathered, dim, 1e-5f, 2)
          .ok());
  std::vector<float> got_gathered = Download(gathered, 2 * dim);
  for (int64_t r = 0; r < n; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += x[r * dim + i] * x[r * dim + i];
    const double scale = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (int64_t i = 0; i < dim; ++i) {
      const double want = x[r * dim + i] * scale * w[i];
      ASSERT_NEAR(got[r * dim + i], want, 1e-5);
      if (r == 2) {
        ASSERT_NEAR(got_gathered[i], want, 1e-5);
      }
      if (r == 0) {
        ASSERT_NEAR(got_gathered[dim + i], want, 1e-5);
      }
    }
  }
}

TEST_P(OpenClOpsTest, AddRmsNormAndAddRows) {
  TESSERA_REQUIRE_OPENCL(status_);
  const int64_t dim = 72, n = 2;
  std::vector<float> x = RandomVector(n * dim, 1), d = RandomVector(n * dim, 2);
  std::vector<float> w = RandomVector(dim, 3);
  cl_mem xb = Upload(x), db = Upload(d);
  cl_mem out = Upload(std::vector<float>(n * dim));
  ASSERT_TRUE(ops_->AddRmsNorm(xb, db, Upload(w), out, dim, 1e-6f, n).ok());
  std::vector<float> got_x = Download(xb, n * dim);
  std::vector<float> got = Download(out, n * dim);
  for (int64_t r = 0; r < n; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const float sum = x[r * dim + i] + d[r * dim + i];
      ASSERT_EQ(got_x[r * dim + i], sum);
      ss += sum * static_cast<double>(sum);
    }
    for (int64_t i = 0; i < dim; ++i) {
      ASSERT_NEAR(got[r * dim + i],
                  got_x[r * dim + i] / std::sqrt(ss / dim + 1e-6) * w[i], 1e-5);
    }
  }
  ASSERT_TRUE(ops_->Add(xb, db, n * dim - 1).ok());  // all but the last
  std::vector<float> twice = Download(xb, n * dim);
  for (int64_t i = 0; i < n * dim - 1; ++i) {
    ASSERT_EQ(twice[i], got_x[i] + d[i]);
  }
  EXPECT_EQ(twice[n * dim - 1], got_x[n * dim - 1]);
}

TEST_P(OpenClOpsTest, SiluMul) {
  TESSERA_REQUIRE_OPENCL(status_);
  const int64_t ffn = 172, n = 2;
  std::vector<float> gu = RandomVector(n * 2 * ffn, 4, 6.0f);
  cl_mem out = Upload(std::vector<float>(n * ffn));
  ASSERT_TRUE(ops_->SiluMul(Upload(gu), out, ffn, n).ok());
  std::vector<float> got = Download(out, n * ffn);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < ffn; ++i) {
      const double g = gu[r * 2 * ffn + i], u = gu[r * 2 * ffn + ffn + i];
      ASSERT_NEAR(got[r * ffn + i], g / (1 + std::exp(-g)) * u, 1e-5);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Builds, OpenClOpsTest,
                         ::testing::Values(Build{"Device", 0, false},
                                           Build{"DeviceFloat", 0, true},
                                           Build{"Lanes4", 4, false}),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace tessera::kernels
