// AArch64 NEON kernels (phones, edge boxes), compiled only on AArch64. With
// the dot-product extension (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a+
// dotprod) integer blocks use sdot; otherwise widening multiplies with
// pairwise accumulation. Activations are signed and weights are made signed
// (Q4_0 nibble - 8), so no offset corrections are needed. x86 hosts test
// both variants under qemu-aarch64 against the scalar kernels:
// scripts/check_neon.sh (ctest neon_conformance).
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_dispatch.h"
#include "kernels/cpu_ops_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define TESSERA_NEON_KERNELS 1
#endif

namespace tessera::kernels {

#if TESSERA_NEON_KERNELS
namespace {

constexpr int64_t kPrefetchBytes = 4096;

inline float LoadHalf(const uint8_t* p) {
  __fp16 h;
  std::memcpy(&h, p, sizeof(h));
  return static_cast<float>(h);
}

// Signed weights of one block as two 16-byte halves (elements 0-15, 16-31).
template <bool kQ4>
inline int8x16x2_t LoadBlock(const uint8_t* blk) {
  int8x16x2_t w;
  if constexpr (kQ4) {
    const uint8x16_t q = vld1q_u8(blk + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    w.val[0] =
        vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    w.val[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
  } else {
    w.val[0] = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 2));
    w.val[1] = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 18));
  }
  return w;
}

inline int32x4_t BlockDot(const int8x16x2_t& w, const int8_t* a) {
  const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.val[0], a0), w.val[1], a1);
#else
  // Each int16 lane sums two products; activations are within +-127, so
  // |sum| <= 2 x 128 x 127 < 2^15 for any weight byte.
  int16x8_t p0 = vmull_s8(vget_low_s8(w.val[0]), vget_low_s8(a0));
  p0 = vmlal_high_s8(p0, w.val[0], a0);
  int16x8_t p1 = vmull_s8(vget_low_s8(w.val[1]), vget_low_s8(a1));
  p1 = vmlal_high_s8(p1, w.val[1], a1);
  return vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
#endif
}

template <bool kQ4, int NA>
void MatVecRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const int64_t nb = x.blocks;
  // Rows are short; prefetch ahead so the stream never restarts cold.
  const int64_t ahead =
      (kPrefetchBytes + w.row_bytes - 1) / w.row_bytes * w.row_bytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    float32x4_t acc[NA];
    for (int n = 0; n < NA; ++n) acc[n] = vdupq_n_f32(0);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = row + b * kBytes;
      __builtin_prefetch(blk + ahead);
      const int8x16x2_t wv = LoadBlock<kQ4>(blk);
      const float dw = LoadHalf(blk);
      for (int n = 0; n < NA; ++n) {
        const int32x4_t dot = BlockDot(wv, x.qs + n * x.cols + b * 32);
        acc[n] =
            vmlaq_n_f32(acc[n], vcvtq_f32_s32(dot), dw * x.scales[n * nb + b]);
      }
    }
    for (int n = 0; n < NA; ++n) {
      float& out = y[n * y_stride + r];
      const float v = vaddvq_f32(acc[n]);
      out = accumulate ? out + v : v;
    }
  }
}

void QuantMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                 const QuantizedRows& x, float* y, int64_t y_stride,
                 bool accumulate) {
  ForQuantFormat(w.format, [&](auto q4) {
    ForMatVecRows(x.rows, [&](auto na) {
      MatVecRows<decltype(q4)::value, decltype(na)::value>(
          w, r0, r1, x, y, y_stride, accumulate);
    });
  });
}

template <bool kF16>
inline float32x4_t LoadWeights(const uint8_t* row, int64_t k) {
  if constexpr (kF16) {
    return vcvt_f32_f16(vreinterpret_f16_u16(
        vld1_u16(reinterpret_cast<const uint16_t*>(row) + k)));
  } else {
    return vld1q_f32(reinterpret_cast<const float*>(row) + k);
  }
}

template <bool kF16>
inline float ScalarWeight(const uint8_t* row, int64_t k) {
  if constexpr (kF16) {
    return LoadHalf(row + 2 * k);
  } else {
    float v;
    std::memcpy(&v, row + 4 * k, sizeof(v));
    return v;
  }
}

template <bool kF16>
void FloatMatMulFormat(const MatrixRef& w, int64_t r0, int64_t r1,
                       const float* x, int64_t n, int64_t x_stride, float* y,
                       int64_t y_stride, bool accumulate) {
  const int64_t ahead =
      (kPrefetchBytes + w.row_bytes - 1) / w.row_bytes * w.row_bytes;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    for (int64_t j = 0; j < n; ++j) {
      const float* xj = x + j * x_stride;
      float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
      int64_t k = 0;
      for (; k + 8 <= w.cols; k += 8) {
        __builtin_prefetch(row + (kF16 ? 2 : 4) * k + ahead);
        acc0 = vfmaq_f32(acc0, LoadWeights<kF16>(row, k), vld1q_f32(xj + k));
        acc1 = vfmaq_f32(acc1, LoadWeights<kF16>(row, k + 4),
                         vld1q_f32(xj + k + 4));
      }
      float v = vaddvq_f32(vaddq_f32(acc0, acc1));
      for (; k < w.cols; ++k) v += ScalarWeight<kF16>(row, k) * xj[k];
      float& out = y[j * y_stride + r];
      out = accumulate ? out + v : v;
    }
  }
}

void FloatMatMul(const MatrixRef& w, int64_t r0, int64_t r1, const float* x,
                 int64_t n, int64_t x_stride, float* y, int64_t y_stride,
                 bool accumulate) {
  if (w.format == GgmlType::kF16) {
    FloatMatMulFormat<true>(w, r0, r1, x, n, x_stride, y, y_stride, accumulate);
  } else {
    FloatMatMulFormat<false>(w, r0, r1, x, n, x_stride, y, y_stride,
                             accumulate);
  }
}

const CpuKernels kNeonKernels = {
#if defined(__ARM_FEATURE_DOTPROD)
    .isa = CpuIsa::kNeonDotProd,
#else
    .isa = CpuIsa::kNeon,
#endif
    .q8_0_offset = 0,
    .q4_0_offset = 0,
    .quant_matvec = QuantMatVec,
    .quant_gemm = nullptr,
    .gemm_scratch_bytes = nullptr,
    .float_matmul = FloatMatMul,
};

}  // namespace

const CpuKernels* NeonKernels() { return &kNeonKernels; }
#else
const CpuKernels* NeonKernels() { return nullptr; }
#endif  // TESSERA_NEON_KERNELS

}  // namespace tessera::kernels
