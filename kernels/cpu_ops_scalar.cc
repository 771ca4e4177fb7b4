// Portable scalar kernels: the fallback on every machine and the yardstick
// the SIMD kernels are tested against. Integer dot products are exact; only
// the float accumulation order differs from the SIMD paths.
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_kernels.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kBlock = 32;

inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof(h));
  return simd::HalfToFloat(h);
}

// Dot of one weight block with one activation block (both unscaled).
inline int32_t BlockDotQ8_0(const uint8_t* block, const int8_t* q) {
  const auto* w = reinterpret_cast<const int8_t*>(block + 2);
  int32_t sum = 0;
  for (int64_t j = 0; j < kBlock; ++j) sum += int32_t{w[j]} * q[j];
  return sum;
}

inline int32_t BlockDotQ4_0(const uint8_t* block, const int8_t* q) {
  const uint8_t* qs = block + 2;
  int32_t sum = 0;
  for (int64_t j = 0; j < kBlock / 2; ++j) {
    sum += (int32_t{qs[j] & 0x0f} - 8) * q[j];
    sum += (int32_t{qs[j] >> 4} - 8) * q[j + kBlock / 2];
  }
  return sum;
}

template <bool kQ4>
float RowDot(const uint8_t* row, const QuantizedRows& x, int64_t n) {
  const int8_t* q = x.qs + n * x.cols;
  const float* scales = x.scales + n * x.blocks;
  const int64_t block_bytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  float sum = 0;
  for (int64_t b = 0; b < x.blocks; ++b) {
    const uint8_t* block = row + b * block_bytes;
    const int32_t dot = kQ4 ? BlockDotQ4_0(block, q + b * kBlock)
                            : BlockDotQ8_0(block, q + b * kBlock);
    sum += LoadHalf(block) * scales[b] * static_cast<float>(dot);
  }
  return sum;
}

void QuantMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                 const QuantizedRows& x, float* y, int64_t y_stride,
                 bool accumulate) {
  const bool q4 = w.format == GgmlType::kQ4_0;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int64_t n = 0; n < x.rows; ++n) {
      const float v = q4 ? RowDot<true>(row, x, n) : RowDot<false>(row, x, n);
      float& out = y[n * y_stride + r];
      out = accumulate ? out + v : v;
    }
  }
}

void FloatMatMul(const MatrixRef& w, int64_t r0, int64_t r1, const float* x,
                 int64_t n, int64_t x_stride, float* y, int64_t y_stride,
                 bool accumulate) {
  const bool f16 = w.format == GgmlType::kF16;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * x_stride;
      float sum = 0;
      if (f16) {
        for (int64_t k = 0; k < w.cols; ++k)
          sum += LoadHalf(row + 2 * k) * xi[k];
      } else {
        const auto* wf = reinterpret_cast<const float*>(row);
        for (int64_t k = 0; k < w.cols; ++k) sum += wf[k] * xi[k];
      }
      float& out = y[i * y_stride + r];
      out = accumulate ? out + sum : sum;
    }
  }
}

const CpuKernels kScalarKernels = {
    .isa = CpuIsa::kScalar,
    .q8_0_offset = 0,
    .q4_0_offset = 0,
    .quant_matvec = QuantMatVec,
    .quant_gemm = nullptr,
    .gemm_scratch_bytes = nullptr,
    .float_matmul = FloatMatMul,
};

}  // namespace

const CpuKernels* ScalarKernels() { return &kScalarKernels; }

}  // namespace tessera::kernels
