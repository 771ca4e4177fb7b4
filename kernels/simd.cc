#include "kernels/simd.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::kernels::simd {
namespace {

// A minimal float-vector vocabulary per ISA; the functions below are written
// once against it. The scalar build uses width 1.
#if TESSERA_SIMD_AVX512
using VF = __m512;
constexpr int64_t kLanes = 16;
inline VF VSet(float x) { return _mm512_set1_ps(x); }
inline VF VLoad(const float* p) { return _mm512_loadu_ps(p); }
inline VF VLoadH(const uint16_t* p) {
  return _mm512_cvtph_ps(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline void VStore(float* p, VF v) { _mm512_storeu_ps(p, v); }
inline void VStoreH(uint16_t* p, VF v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
inline VF VAdd(VF a, VF b) { return _mm512_add_ps(a, b); }
inline VF VMul(VF a, VF b) { return _mm512_mul_ps(a, b); }
inline VF VFma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
inline VF VMax(VF a, VF b) { return _mm512_max_ps(a, b); }
inline VF VMin(VF a, VF b) { return _mm512_min_ps(a, b); }
inline VF VDiv(VF a, VF b) { return _mm512_div_ps(a, b); }
inline VF VRound(VF a) {
  return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline VF VPow2i(VF n) {
  const __m512i bits = _mm512_slli_epi32(
      _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_castsi512_ps(bits);
}
inline float VSum(VF v) { return _mm512_reduce_add_ps(v); }
inline float VMaxAll(VF v) { return _mm512_reduce_max_ps(v); }
#elif TESSERA_SIMD_AVX2
using VF = __m256;
constexpr int64_t kLanes = 8;
inline VF VSet(float x) { return _mm256_set1_ps(x); }
inline VF VLoad(const float* p) { return _mm256_loadu_ps(p); }
inline VF VLoadH(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline void VStore(float* p, VF v) { _mm256_storeu_ps(p, v); }
inline void VStoreH(uint16_t* p, VF v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
inline VF VAdd(VF a, VF b) { return _mm256_add_ps(a, b); }
inline VF VMul(VF a, VF b) { return _mm256_mul_ps(a, b); }
inline VF VFma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
inline VF VMax(VF a, VF b) { return _mm256_max_ps(a, b); }
inline VF VMin(VF a, VF b) { return _mm256_min_ps(a, b); }
inline VF VDiv(VF a, VF b) { return _mm256_div_ps(a, b); }
inline VF VRound(VF a) {
  return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline VF VPow2i(VF n) {
  const __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_castsi256_ps(bits);
}
inline float VSum(VF v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float VMaxAll(VF v) {
  float lanes[8];
  _mm256_storeu_ps(lanes, v);
  return *std::max_element(lanes, lanes + 8);
}
#elif TESSERA_SIMD_NEON
using VF = float32x4_t;
constexpr int64_t kLanes = 4;
inline VF VSet(float x) { return vdupq_n_f32(x); }
inline VF VLoad(const float* p) { return vld1q_f32(p); }
inline VF VLoadH(const uint16_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
inline void VStore(float* p, VF v) { vst1q_f32(p, v); }
inline void VStoreH(uint16_t* p, VF v) {
  vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
}
inline VF VAdd(VF a, VF b) { return vaddq_f32(a, b); }
inline VF VMul(VF a, VF b) { return vmulq_f32(a, b); }
inline VF VFma(VF a, VF b, VF c) { return vfmaq_f32(c, a, b); }
inline VF VMax(VF a, VF b) { return vmaxq_f32(a, b); }
inline VF VMin(VF a, VF b) { return vminq_f32(a, b); }
inline VF VDiv(VF a, VF b) { return vdivq_f32(a, b); }
inline VF VRound(VF a) { return vrndnq_f32(a); }
inline VF VPow2i(VF n) {
  const int32x4_t bits =
      vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vreinterpretq_f32_s32(bits);
}
inline float VSum(VF v) { return vaddvq_f32(v); }
inline float VMaxAll(VF v) { return vmaxvq_f32(v); }
#else
using VF = float;
constexpr int64_t kLanes = 1;
inline VF VSet(float x) { return x; }
inline VF VLoad(const float* p) { return *p; }
inline VF VLoadH(const uint16_t* p) { return HalfToFloat(*p); }
inline void VStore(float* p, VF v) { *p = v; }
inline void VStoreH(uint16_t* p, VF v) { *p = FloatToHalf(v); }
inline VF VAdd(VF a, VF b) { return a + b; }
inline VF VMul(VF a, VF b) { return a * b; }
inline VF VFma(VF a, VF b, VF c) { return std::fma(a, b, c); }
inline VF VMax(VF a, VF b) { return std::max(a, b); }
inline VF VMin(VF a, VF b) { return std::min(a, b); }
inline VF VDiv(VF a, VF b) { return a / b; }
inline VF VRound(VF a) { return std::nearbyint(a); }
inline VF VPow2i(VF n) { return std::ldexp(1.0f, static_cast<int>(n)); }
inline float VSum(VF v) { return v; }
inline float VMaxAll(VF v) { return v; }
#endif

// exp(x) for x clamped to [-87.3, 88]: x = n ln2 + r with |r| <= ln2/2, then
// a degree-7 Taylor polynomial for e^r (truncation error < 3e-9 relative).
inline VF VExp(VF x) {
  x = VMin(VMax(x, VSet(-87.3f)), VSet(88.0f));
  const VF n = VRound(VMul(x, VSet(1.44269504088896341f)));
  VF r = VFma(n, VSet(-0.693145751953125f), x);
  r = VFma(n, VSet(-1.42860682030941723e-6f), r);
  VF p = VSet(1.0f / 5040);
  p = VFma(p, r, VSet(1.0f / 720));
  p = VFma(p, r, VSet(1.0f / 120));
  p = VFma(p, r, VSet(1.0f / 24));
  p = VFma(p, r, VSet(1.0f / 6));
  p = VFma(p, r, VSet(0.5f));
  p = VFma(p, r, VSet(1.0f));
  p = VFma(p, r, VSet(1.0f));
  return VMul(p, VPow2i(n));
}

// Vector lanes then scalar tail, for element-wise loops.
template <typename VecFn, typename ScalarFn>
inline void ForEach(int64_t n, VecFn vec, ScalarFn scalar) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vec(i);
  for (; i < n; ++i) scalar(i);
}

// The tails use the library exp over the same clamped range.
inline float ScalarExp(float x) {
  return std::exp(std::min(std::max(x, -87.3f), 88.0f));
}

}  // namespace

float Dot(const float* a, const float* b, int64_t n) {
  VF acc0 = VSet(0), acc1 = VSet(0);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    acc0 = VFma(VLoad(a + i), VLoad(b + i), acc0);
    acc1 = VFma(VLoad(a + i + kLanes), VLoad(b + i + kLanes), acc1);
  }
  for (; i + kLanes <= n; i += kLanes)
    acc0 = VFma(VLoad(a + i), VLoad(b + i), acc0);
  float sum = VSum(VAdd(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float DotF16(const float* a, const uint16_t* b, int64_t n) {
  VF acc0 = VSet(0), acc1 = VSet(0);
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    acc0 = VFma(VLoad(a + i), VLoadH(b + i), acc0);
    acc1 = VFma(VLoad(a + i + kLanes), VLoadH(b + i + kLanes), acc1);
  }
  for (; i + kLanes <= n; i += kLanes)
    acc0 = VFma(VLoad(a + i), VLoadH(b + i), acc0);
  float sum = VSum(VAdd(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * HalfToFloat(b[i]);
  return sum;
}

void Axpy(float alpha, const float* x, float* y, int64_t n) {
  const VF va = VSet(alpha);
  ForEach(
      n,
      [&](int64_t i) { VStore(y + i, VFma(va, VLoad(x + i), VLoad(y + i))); },
      [&](int64_t i) { y[i] += alpha * x[i]; });
}

void AxpyF16(float alpha, const uint16_t* x, float* y, int64_t n) {
  const VF va = VSet(alpha);
  ForEach(
      n,
      [&](int64_t i) { VStore(y + i, VFma(va, VLoadH(x + i), VLoad(y + i))); },
      [&](int64_t i) { y[i] += alpha * HalfToFloat(x[i]); });
}

double SumSquares(const float* x, int64_t n) {
  VF acc = VSet(0);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    acc = VFma(VLoad(x + i), VLoad(x + i), acc);
  float lanes[kLanes];
  std::copy_n(reinterpret_cast<const float*>(&acc), kLanes, lanes);
  double sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += double(x[i]) * x[i];
  return sum;
}

void ScaleMul(const float* x, float scale, const float* weight, float* y,
              int64_t n) {
  const VF vs = VSet(scale);
  ForEach(
      n,
      [&](int64_t i) {
        VStore(y + i, VMul(VMul(VLoad(x + i), vs), VLoad(weight + i)));
      },
      [&](int64_t i) { y[i] = x[i] * scale * weight[i]; });
}

void ToHalf(const float* src, uint16_t* dst, int64_t n) {
  ForEach(
      n, [&](int64_t i) { VStoreH(dst + i, VLoad(src + i)); },
      [&](int64_t i) { dst[i] = FloatToHalf(src[i]); });
}

void SwiGlu(const float* gate, const float* up, float* x, int64_t n) {
  const VF one = VSet(1.0f);
  ForEach(
      n,
      [&](int64_t i) {
        const VF g = VLoad(gate + i);
        const VF e = VExp(VMul(g, VSet(-1.0f)));
        VStore(x + i, VMul(VDiv(g, VAdd(one, e)), VLoad(up + i)));
      },
      [&](int64_t i) {
        const float g = gate[i];
        x[i] = g / (1.0f + ScalarExp(-g)) * up[i];
      });
}

void Add(const float* x, float* y, int64_t n) {
  ForEach(
      n, [&](int64_t i) { VStore(y + i, VAdd(VLoad(x + i), VLoad(y + i))); },
      [&](int64_t i) { y[i] += x[i]; });
}

float ExpShiftedSum(float* x, float shift, int64_t n) {
  const VF vs = VSet(shift);
  VF acc = VSet(0);
  float tail = 0;
  ForEach(
      n,
      [&](int64_t i) {
        const VF e = VExp(VAdd(VLoad(x + i), VMul(vs, VSet(-1.0f))));
        VStore(x + i, e);
        acc = VAdd(acc, e);
      },
      [&](int64_t i) {
        x[i] = ScalarExp(x[i] - shift);
        tail += x[i];
      });
  return VSum(acc) + tail;
}

float Max(const float* x, int64_t n) {
  float best = -std::numeric_limits<float>::infinity();
  if (n >= kLanes) {
    VF m = VLoad(x);
    int64_t i = kLanes;
    for (; i + kLanes <= n; i += kLanes) m = VMax(m, VLoad(x + i));
    best = VMaxAll(m);
    for (; i < n; ++i) best = std::max(best, x[i]);
    return best;
  }
  for (int64_t i = 0; i < n; ++i) best = std::max(best, x[i]);
  return best;
}

namespace {

// Grouped-query attention: up to kHeads heads share every key or value
// vector loaded, and their kHeads x k{Dot,Sum}Vectors accumulators stay in
// registers (at most 64 keys per pass, so the reads past n stay within 64
// values; see the header).
constexpr int64_t kHeads = 4;
#if TESSERA_SIMD_AVX2
constexpr int64_t kSumVectors = 2;  // 16 registers: 8 accumulators
constexpr int64_t kDotVectors = 2;
#else  // 32 registers: 16 accumulators
constexpr int64_t kSumVectors = 4;
constexpr int64_t kDotVectors = 4;
#endif

// The step both helpers repeat: loads `vectors` (<= V) vectors at `row`
// once, and for each of hn heads adds scalar[h * scalar_stride] times them
// into acc[h].
template <int64_t V, typename T, typename Load>
inline void FmaHeads(const T* row, int64_t vectors, const float* scalar,
                     int64_t scalar_stride, int64_t hn, Load load,
                     VF (&acc)[kHeads][V]) {
  VF x[V] = {};
  for (int64_t j = 0; j < V; ++j) {
    if (j < vectors) x[j] = load(row + j * kLanes);
  }
  for (int64_t h = 0; h < kHeads; ++h) {
    if (h >= hn) break;
    const VF s = VSet(scalar[h * scalar_stride]);
    for (int64_t j = 0; j < V; ++j) {
      if (j < vectors) acc[h][j] = VFma(s, x[j], acc[h][j]);
    }
  }
}

// Scores of heads [h0, h0 + hn) for keys [i, i + kDotVectors * kLanes); the
// loads past n stay inside the caller's rows (see the header).
template <typename T, typename Load>
void DotChunk(const float* q, int64_t hn, int64_t dims, const T* kt,
              int64_t stride, int64_t i, int64_t n, float scale, float* out,
              int64_t out_stride, Load load) {
  const int64_t vectors =
      std::min<int64_t>(kDotVectors, (n - i + kLanes - 1) / kLanes);
  VF acc[kHeads][kDotVectors];
  for (auto& head : acc) {
    for (VF& a : head) a = VSet(0);
  }
  for (int64_t d = 0; d < dims; ++d) {
    FmaHeads(kt + d * stride + i, vectors, q + d, dims, hn, load, acc);
  }
  const VF vs = VSet(scale);
  for (int64_t h = 0; h < hn; ++h) {
    float lanes[kDotVectors * kLanes];
    for (int64_t j = 0; j < vectors; ++j) {
      VStore(lanes + j * kLanes, VMul(acc[h][j], vs));
    }
    std::copy_n(lanes, std::min(kDotVectors * kLanes, n - i),
                out + h * out_stride + i);
  }
}

template <typename T, typename Load>
void DotTransposedImpl(const float* q, int64_t heads, int64_t dims, const T* kt,
                       int64_t stride, int64_t n, float scale, float* out,
                       int64_t out_stride, Load load) {
  for (int64_t h0 = 0; h0 < heads; h0 += kHeads) {
    const int64_t hn = std::min(kHeads, heads - h0);
    for (int64_t i = 0; i < n; i += kDotVectors * kLanes) {
      DotChunk(q + h0 * dims, hn, dims, kt, stride, i, n, scale,
               out + h0 * out_stride, out_stride, load);
    }
  }
}

// Output columns [j0, j0 + vectors * kLanes) of heads [h0, h0 + hn).
template <typename T, typename Load>
void SumChunk(const float* p, int64_t hn, int64_t p_stride, int64_t n,
              const T* v, int64_t stride, int64_t dims, int64_t j0,
              int64_t vectors, float* out, Load load) {
  VF acc[kHeads][kSumVectors];
  for (int64_t h = 0; h < hn; ++h) {
    for (int64_t j = 0; j < vectors; ++j) {
      acc[h][j] = VLoad(out + h * dims + j0 + j * kLanes);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    FmaHeads(v + i * stride + j0, vectors, p + i, p_stride, hn, load, acc);
  }
  for (int64_t h = 0; h < hn; ++h) {
    for (int64_t j = 0; j < vectors; ++j) {
      VStore(out + h * dims + j0 + j * kLanes, acc[h][j]);
    }
  }
}

template <typename T, typename Load, typename Scalar>
void WeightedSumImpl(const float* p, int64_t heads, int64_t p_stride, int64_t n,
                     const T* v, int64_t stride, int64_t dims, float* out,
                     Load load, Scalar scalar) {
  const int64_t full = dims / kLanes * kLanes;
  for (int64_t h0 = 0; h0 < heads; h0 += kHeads) {
    const int64_t hn = std::min(kHeads, heads - h0);
    const float* ph = p + h0 * p_stride;
    float* oh = out + h0 * dims;
    for (int64_t j0 = 0; j0 < full; j0 += kSumVectors * kLanes) {
      const int64_t vectors = std::min(kSumVectors, (full - j0) / kLanes);
      SumChunk(ph, hn, p_stride, n, v, stride, dims, j0, vectors, oh, load);
    }
    for (int64_t h = 0; h < hn; ++h) {
      for (int64_t j = full; j < dims; ++j) {
        float sum = oh[h * dims + j];
        for (int64_t i = 0; i < n; ++i) {
          sum += ph[h * p_stride + i] * scalar(v[i * stride + j]);
        }
        oh[h * dims + j] = sum;
      }
    }
  }
}

}  // namespace

void DotTransposed(const float* q, int64_t heads, int64_t dims, const float* kt,
                   int64_t stride, int64_t n, float scale, float* out,
                   int64_t out_stride) {
  DotTransposedImpl(q, heads, dims, kt, stride, n, scale, out, out_stride,
                    [](const float* p) { return VLoad(p); });
}

void DotTransposedF16(const float* q, int64_t heads, int64_t dims,
                      const uint16_t* kt, int64_t stride, int64_t n,
                      float scale, float* out, int64_t out_stride) {
  DotTransposedImpl(q, heads, dims, kt, stride, n, scale, out, out_stride,
                    [](const uint16_t* p) { return VLoadH(p); });
}

void WeightedSum(const float* p, int64_t heads, int64_t p_stride, int64_t n,
                 const float* v, int64_t stride, int64_t dims, float* out) {
  WeightedSumImpl(
      p, heads, p_stride, n, v, stride, dims, out,
      [](const float* x) { return VLoad(x); }, [](float x) { return x; });
}

void WeightedSumF16(const float* p, int64_t heads, int64_t p_stride, int64_t n,
                    const uint16_t* v, int64_t stride, int64_t dims,
                    float* out) {
  WeightedSumImpl(
      p, heads, p_stride, n, v, stride, dims, out,
      [](const uint16_t* x) { return VLoadH(x); },
      [](uint16_t x) { return HalfToFloat(x); });
}

void Scale(float* x, float scale, int64_t n) {
  const VF vs = VSet(scale);
  ForEach(
      n, [&](int64_t i) { VStore(x + i, VMul(VLoad(x + i), vs)); },
      [&](int64_t i) { x[i] *= scale; });
}

}  // namespace tessera::kernels::simd
