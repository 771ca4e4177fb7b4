// Small vector helpers for the CPU backend's float ops (attention, norms,
// activations), compiled for the build's target ISA: AVX-512, AVX2+FMA+F16C,
// NEON, or plain loops the compiler may vectorise. (The weight-matrix kernels
// choose their ISA at run time instead; see cpu_ops_kernels.h.)
//
// All functions are pure and thread-safe. Pointers need no alignment.
#ifndef TESSERA_KERNELS_SIMD_H_
#define TESSERA_KERNELS_SIMD_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) && defined(__F16C__)
#define TESSERA_SIMD_AVX512 1
#include "kernels/x86_intrinsics.h"
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define TESSERA_SIMD_AVX2 1
#include "kernels/x86_intrinsics.h"
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define TESSERA_SIMD_NEON 1
#include <arm_neon.h>
#endif

namespace tessera::kernels::simd {

// IEEE binary16 bits <-> float. HalfToFloat is exact; FloatToHalf rounds to
// nearest even (overflow to infinity, NaN kept NaN).
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, sizeof(bits));
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u |
                                 (x > 0x7f800000u ? 0x200u : 0));
  }
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (x < 0x38800000u) {  // subnormal or zero in half: round x * 2^24
    float magnitude;
    std::memcpy(&magnitude, &x, sizeof(magnitude));
    return static_cast<uint16_t>(
        sign | static_cast<uint32_t>(std::nearbyint(magnitude * 0x1p24f)));
  }
  // Normal: rebias the exponent and round the 13 dropped bits to even.
  const uint32_t rounded = x + 0x0fffu + ((x >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

// Sum of a[i] * b[i].
float Dot(const float* a, const float* b, int64_t n);
// Sum of a[i] * half(b[i]).
float DotF16(const float* a, const uint16_t* b, int64_t n);
// y[i] += alpha * x[i].
void Axpy(float alpha, const float* x, float* y, int64_t n);
void AxpyF16(float alpha, const uint16_t* x, float* y, int64_t n);
// Sum of x[i]^2, accumulated in double-like precision (pairwise in float
// lanes, summed in double).
double SumSquares(const float* x, int64_t n);
// y[i] = x[i] * scale * weight[i].
void ScaleMul(const float* x, float scale, const float* weight, float* y,
              int64_t n);
// dst[i] = half(src[i]).
void ToHalf(const float* src, uint16_t* dst, int64_t n);
// x[i] = silu(gate[i]) * up[i].
void SwiGlu(const float* gate, const float* up, float* x, int64_t n);
// y[i] += x[i].
void Add(const float* x, float* y, int64_t n);
// x[i] = exp(x[i] - shift); returns the sum of the new values. Relative
// error below 1e-6 against std::exp for arguments in [-87, 88].
float ExpShiftedSum(float* x, float shift, int64_t n);
// Scores of `heads` query heads against n keys stored transposed
// (dimension-major), the heads sharing the keys (grouped-query attention):
//   out[h * out_stride + i] = scale * sum_{d < dims} q[h * dims + d] *
//                             kt[d * stride + i]    for h < heads, i < n.
// Each key vector is loaded once for up to four heads.
// REQUIRES: n <= stride; kt rows readable up to a multiple of 64 values
// past i (values past n are read but ignored).
void DotTransposed(const float* q, int64_t heads, int64_t dims, const float* kt,
                   int64_t stride, int64_t n, float scale, float* out,
                   int64_t out_stride);
void DotTransposedF16(const float* q, int64_t heads, int64_t dims,
                      const uint16_t* kt, int64_t stride, int64_t n,
                      float scale, float* out, int64_t out_stride);
// Weighted sums of n value vectors for `heads` heads sharing the values:
//   out[h * dims + j] += sum_{i < n} p[h * p_stride + i] * v[i * stride + j]
// for h < heads, j < dims. Each value vector is loaded once for up to four
// heads.
void WeightedSum(const float* p, int64_t heads, int64_t p_stride, int64_t n,
                 const float* v, int64_t stride, int64_t dims, float* out);
void WeightedSumF16(const float* p, int64_t heads, int64_t p_stride, int64_t n,
                    const uint16_t* v, int64_t stride, int64_t dims,
                    float* out);
// Largest x[i] (-infinity when n == 0).
float Max(const float* x, int64_t n);
// x[i] *= scale.
void Scale(float* x, float scale, int64_t n);

}  // namespace tessera::kernels::simd

#endif  // TESSERA_KERNELS_SIMD_H_
