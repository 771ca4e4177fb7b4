// AVX2 + FMA + F16C kernels for x86-64 CPUs without AVX-512 VNNI, compiled
// with a target attribute and chosen by CPUID at run time.
//
// Integer formats use vpmaddubsw (unsigned x signed bytes -> int16 pairs),
// which saturates: Q8_0 therefore uses the sign trick |w| * sign(a, w)
// (pairs stay below 2 * 128 * 127), while Q4_0 multiplies raw nibbles
// (w + 8, small) and adds the activations' -8 * sum correction.
//
//  * matvec (decode): straight from the GGUF layout, one row at a time, up
//    to kMaxMatVecRows activation rows per pass over the weights.
//  * gemm (prefill): panels of 16 repacked weight rows reused across all
//    activation rows; in cpu_ops_avx2_gemm.cc, which describes the layout.
#include "kernels/cpu_ops_avx2.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_avx2_gemm.h"
#include "kernels/cpu_ops_dispatch.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH("avx2,fma,f16c")

namespace {

constexpr int64_t kPrefetchBytes = 4096;

inline float LoadHalf(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return _cvtsh_ss(v);
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Integer dot of one weight block with one activation block, as 8 int32
// lanes (the Q4_0 correction included).
template <bool kQ4>
inline __m256i BlockDot(const uint8_t* blk, const int8_t* a,
                        const int32_t* quad_corr) {
  const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
  const __m256i ones = _mm256_set1_epi16(1);
  if constexpr (kQ4) {
    const __m128i q =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m256i u = _mm256_and_si256(
        _mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
    const __m256i pairs = _mm256_maddubs_epi16(u, av);
    return _mm256_add_epi32(
        _mm256_madd_epi16(pairs, ones),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quad_corr)));
  } else {
    const __m256i wv =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i pairs =
        _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(av, wv));
    return _mm256_madd_epi16(pairs, ones);
  }
}

// The dot products of NW weight rows (`r`) with NA activation rows, read
// side by side, each prefetched `ahead` bytes ahead, into y.
template <bool kQ4, int NA, int NW>
inline void MatVecRowGroup(const MatrixRef& w, const int64_t (&r)[NW],
                           int64_t ahead, const QuantizedRows& x, float* y,
                           int64_t y_stride, bool accumulate) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const int64_t nb = x.blocks;
  const uint8_t* rows[NW];
  __m256 acc[NW][NA];
  for (int i = 0; i < NW; ++i) {
    rows[i] = w.data + r[i] * w.row_bytes;
    for (int n = 0; n < NA; ++n) acc[i][n] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    for (int i = 0; i < NW; ++i) {
      const uint8_t* blk = rows[i] + b * kBytes;
      _mm_prefetch(reinterpret_cast<const char*>(blk + ahead), _MM_HINT_T0);
      const float dw = LoadHalf(blk);
      for (int n = 0; n < NA; ++n) {
        const __m256i dot =
            BlockDot<kQ4>(blk, x.qs + n * x.cols + b * 32,
                          x.quad_corr + n * (x.cols / 4) + b * 8);
        acc[i][n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),
                                    _mm256_set1_ps(dw * x.scales[n * nb + b]),
                                    acc[i][n]);
      }
    }
  }
  for (int i = 0; i < NW; ++i) {
    for (int n = 0; n < NA; ++n) {
      float& out = y[n * y_stride + r[i]];
      const float v = HorizontalSum(acc[i][n]);
      out = accumulate ? out + v : v;
    }
  }
}

// Decode: rows [r0, r1) as two weight streams, row i of the first half
// beside row i of the second, as the AVX-512 kernels (two-stream decode,
// cpu_ops_avx512.h); with three or four activation rows one at a time, so
// the accumulators stay in registers.
template <bool kQ4, int NA>
void MatVecRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  // Rows are short; prefetch ahead so the stream never restarts cold.
  const int64_t ahead =
      (kPrefetchBytes + w.row_bytes - 1) / w.row_bytes * w.row_bytes;
  ForDecodeRows<NA <= 2>(r0, r1, [&](const auto& rows) {
    MatVecRowGroup<kQ4, NA>(w, rows, ahead, x, y, y_stride, accumulate);
  });
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
inline __m256 LoadWeights(const uint8_t* row, int64_t k) {
  if constexpr (kF16) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
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

// One weight row x NX activation rows.
template <bool kF16, int NX>
void FloatTile(const uint8_t* row, int64_t cols, int64_t row_bytes,
               const float* x, int64_t x_stride, float* out, int64_t y_stride,
               bool accumulate) {
  __m256 acc[NX];
  for (int j = 0; j < NX; ++j) acc[j] = _mm256_setzero_ps();
  constexpr int64_t kElementBytes = kF16 ? 2 : 4;
  const int64_t ahead =
      (kPrefetchBytes + row_bytes - 1) / row_bytes * row_bytes;
  int64_t k = 0;
  for (; k + 8 <= cols; k += 8) {
    _mm_prefetch(reinterpret_cast<const char*>(row + k * kElementBytes + ahead),
                 _MM_HINT_T0);
    const __m256 wv = LoadWeights<kF16>(row, k);
    for (int j = 0; j < NX; ++j) {
      acc[j] =
          _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + j * x_stride + k), acc[j]);
    }
  }
  for (int j = 0; j < NX; ++j) {
    float v = HorizontalSum(acc[j]);
    for (int64_t t = k; t < cols; ++t)
      v += ScalarWeight<kF16>(row, t) * x[j * x_stride + t];
    float& o = out[j * y_stride];
    o = accumulate ? o + v : v;
  }
}

template <bool kF16>
void FloatMatMulFormat(const MatrixRef& w, int64_t r0, int64_t r1,
                       const float* x, int64_t n, int64_t x_stride, float* y,
                       int64_t y_stride, bool accumulate) {
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      FloatTile<kF16, 4>(row, w.cols, w.row_bytes, x + j * x_stride, x_stride,
                         y + j * y_stride + r, y_stride, accumulate);
    }
    for (; j < n; ++j) {
      FloatTile<kF16, 1>(row, w.cols, w.row_bytes, x + j * x_stride, x_stride,
                         y + j * y_stride + r, y_stride, accumulate);
    }
  }
}

void FloatMatMulImpl(const MatrixRef& w, int64_t r0, int64_t r1, const float* x,
                     int64_t n, int64_t x_stride, float* y, int64_t y_stride,
                     bool accumulate) {
  if (w.format == GgmlType::kF16) {
    FloatMatMulFormat<true>(w, r0, r1, x, n, x_stride, y, y_stride, accumulate);
  } else {
    FloatMatMulFormat<false>(w, r0, r1, x, n, x_stride, y, y_stride,
                             accumulate);
  }
}

const CpuKernels kAvx2Kernels = {
    .isa = CpuIsa::kAvx2,
    .q8_0_offset = 0,
    .q4_0_offset = 8,
    .quant_matvec = QuantMatVec,
    .quant_gemm = avx2::QuantGemm,
    .gemm_scratch_bytes = avx2::GemmScratchBytes,
    .float_matmul = avx2::FloatMatMul,
};

}  // namespace

TESSERA_TARGET_POP()

// A plain entry point, shared with the AVX-VNNI table (cpu_ops_avx2.h).
void avx2::FloatMatMul(const MatrixRef& w, int64_t r0, int64_t r1,
                       const float* x, int64_t n, int64_t x_stride, float* y,
                       int64_t y_stride, bool accumulate) {
  FloatMatMulImpl(w, r0, r1, x, n, x_stride, y, y_stride, accumulate);
}

const CpuKernels* Avx2Kernels() { return &kAvx2Kernels; }
#else
const CpuKernels* Avx2Kernels() { return nullptr; }
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
