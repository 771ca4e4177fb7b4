// AVX-512 (F, BW, VL, DQ) + VNNI kernels, compiled with a target attribute
// so that portable builds still carry them; chosen by CPUID at run time.
//
// Integer formats use vpdpbusd (unsigned x signed bytes): weight bytes are
// made unsigned (Q8_0: w ^ 0x80 = w + 128; Q4_0: the raw nibble = w + 8) and
// the activations' precomputed -offset * sum corrections seed the
// accumulators, so no sign fix-ups are needed in the inner loops.
//
//  * matvec (decode, memory bound): straight from the GGUF layout, two
//    rows side by side (two-stream decode, cpu_ops_avx512.h), prefetched
//    kPrefetchBytes ahead; per-block scales applied in float lanes. Q8_0
//    takes two blocks per 512-bit step. Q4_0 reads each row as a plain
//    stream of aligned 64-byte vectors against activations in
//    QuantizedRows' stream layout (cpu_ops_avx512_q4.cc); two blocks per
//    step remain for activations without that layout.
//  * gemm (prefill, compute bound): cpu_ops_avx512_gemm.cc.
#include "kernels/cpu_ops_avx512.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_dispatch.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/unaligned.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH(TESSERA_AVX512_TARGET)

namespace {

// Unsigned weight bytes of blocks b and b+1 (64 values, in element order).
template <bool kQ4>
inline __m512i LoadBlockPair(const uint8_t* blk) {
  if constexpr (kQ4) {
    // 128-bit lanes [qs_b, qs_b, qs_b1, qs_b1]; shifting the odd lanes'
    // 64-bit words by 4 brings the high nibbles down.
    __m512i v = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    v = _mm512_mask_broadcast_i32x4(
        v, 0xff00,
        _mm_loadu_si128(
            reinterpret_cast<const __m128i*>(blk + 2 + kQ4_0BlockBytes)));
    v = _mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
  } else {
    const __m256i lo =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i hi = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(blk + 2 + kQ8_0BlockBytes));
    return _mm512_xor_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
        _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

template <bool kQ4>
inline __m256i LoadBlock(const uint8_t* blk) {
  if constexpr (kQ4) {
    const __m128i q =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
  } else {
    return _mm256_xor_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)),
        _mm256_set1_epi8(static_cast<char>(0x80)));
  }
}

// Decode: one block pair (b, b+1) of NW weight rows against NA activation
// rows, accumulated into acc; the activation loads serve every weight row.
template <bool kQ4, int NW, int NA>
inline void MatVecPair(const uint8_t* const (&rows)[NW], int64_t b,
                       const QuantizedRows& x, __m512 (&acc)[NW][NA]) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const __m512i halves =
      _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  __m512i u[NW];
  __m128 dw[NW];
  for (int w = 0; w < NW; ++w) {
    const uint8_t* blk = rows[w] + b * kBytes;
    _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchBytes),
                 _MM_HINT_T0);
    u[w] = LoadBlockPair<kQ4>(blk);
    dw[w] = _mm_cvtph_ps(
        _mm_cvtsi32_si128(LoadU16(blk) | (LoadU16(blk + kBytes) << 16)));
  }
  for (int n = 0; n < NA; ++n) {
    const __m512i corr =
        _mm512_loadu_si512(x.quad_corr + n * (x.cols / 4) + b * 8);
    const __m512i a = _mm512_loadu_si512(x.qs + n * x.cols + b * 32);
    // Two consecutive activation scales (any alignment).
    const __m128 da = _mm_castsi128_ps(_mm_loadl_epi64(
        reinterpret_cast<const __m128i*>(x.scales + n * x.blocks + b)));
    for (int w = 0; w < NW; ++w) {
      const __m512i dot = _mm512_dpbusd_epi32(corr, u[w], a);
      const __m512 s = _mm512_permutexvar_ps(
          halves, _mm512_castps128_ps512(_mm_mul_ps(dw[w], da)));
      acc[w][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc[w][n]);
    }
  }
}

// An odd last block of NW weight rows, in 256-bit halves.
template <bool kQ4, int NW, int NA>
inline void MatVecLastBlock(const uint8_t* const (&rows)[NW], int64_t b,
                            const QuantizedRows& x, __m512 (&acc)[NW][NA]) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  for (int w = 0; w < NW; ++w) {
    const uint8_t* blk = rows[w] + b * kBytes;
    const __m256i u = LoadBlock<kQ4>(blk);
    const float dw = _cvtsh_ss(static_cast<uint16_t>(LoadU16(blk)));
    for (int n = 0; n < NA; ++n) {
      const __m256i dot = _mm256_dpbusd_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
              x.quad_corr + n * (x.cols / 4) + b * 8)),
          u,
          _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(x.qs + n * x.cols + b * 32)));
      const __m256 f =
          _mm256_mul_ps(_mm256_cvtepi32_ps(dot),
                        _mm256_set1_ps(dw * x.scales[n * x.blocks + b]));
      acc[w][n] = _mm512_add_ps(acc[w][n], _mm512_zextps256_ps512(f));
    }
  }
}

// The dot products of NW weight rows (`r`) with NA activation rows, read
// side by side, into y; two accumulator sets keep the FMA chains short.
template <bool kQ4, int NA, int NW>
inline void MatVecRowGroup(const MatrixRef& w, const int64_t (&r)[NW],
                           const QuantizedRows& x, float* y, int64_t y_stride,
                           bool accumulate) {
  const int64_t nb = x.blocks;
  const uint8_t* rows[NW];
  __m512 even[NW][NA], odd[NW][NA];
  for (int i = 0; i < NW; ++i) {
    rows[i] = w.data + r[i] * w.row_bytes;
    for (int n = 0; n < NA; ++n) even[i][n] = odd[i][n] = _mm512_setzero_ps();
  }
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    MatVecPair<kQ4, NW, NA>(rows, b, x, even);
    MatVecPair<kQ4, NW, NA>(rows, b + 2, x, odd);
  }
  if (b + 2 <= nb) {
    MatVecPair<kQ4, NW, NA>(rows, b, x, even);
    b += 2;
  }
  if (b < nb) MatVecLastBlock<kQ4, NW, NA>(rows, b, x, odd);
  for (int i = 0; i < NW; ++i) {
    for (int n = 0; n < NA; ++n) {
      float& out = y[n * y_stride + r[i]];
      const float v =
          _mm512_reduce_add_ps(_mm512_add_ps(even[i][n], odd[i][n]));
      out = accumulate ? out + v : v;
    }
  }
}

// Decode: rows [r0, r1) against NA activation rows as two weight streams,
// row i of the first half beside row i of the second (two-stream decode,
// cpu_ops_avx512.h), each prefetched kPrefetchBytes ahead. With three or four
// activation rows the accumulators of two weight rows would not fit the
// registers, and the rows go one at a time.
template <bool kQ4, int NA>
void MatVecRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  ForDecodeRows<NA <= 2>(r0, r1, [&](const auto& rows) {
    MatVecRowGroup<kQ4, NA>(w, rows, x, y, y_stride, accumulate);
  });
}

void QuantMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                 const QuantizedRows& x, float* y, int64_t y_stride,
                 bool accumulate) {
  if (w.q4_tiled) {
    Avx512Q4TileMatVec(w, r0, r1, x, y, y_stride, accumulate);
    return;
  }
  // Q4_0 rows are 18 x blocks bytes, so all of a matrix's rows start at
  // even addresses or all at odd ones; the stream kernel takes even ones.
  if (w.format == GgmlType::kQ4_0 && x.stream != nullptr &&
      reinterpret_cast<uintptr_t>(w.data) % 2 == 0) {
    Avx512Q4StreamMatVec(w, r0, r1, x, y, y_stride, accumulate);
    return;
  }
  ForQuantFormat(w.format, [&](auto q4) {
    ForMatVecRows(x.rows, [&](auto na) {
      MatVecRows<decltype(q4)::value, decltype(na)::value>(
          w, r0, r1, x, y, y_stride, accumulate);
    });
  });
}

// F32 / F16 weights: NW weight rows x NX activation rows per pass.
template <bool kF16>
inline __m512 LoadWeights(const uint8_t* row, int64_t k, __mmask16 mask) {
  if constexpr (kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * k));
  } else {
    return _mm512_maskz_loadu_ps(mask, row + 4 * k);
  }
}

// 16 columns from k of NW weight rows x NX activation rows into acc.
template <bool kF16, int NW, int NX>
inline void FloatChunk(const MatrixRef& w, int64_t r, const float* x,
                       int64_t x_stride, int64_t k, __m512 (&acc)[NW][NX]) {
  constexpr int64_t kElementBytes = kF16 ? 2 : 4;
  const __mmask16 mask = w.cols - k >= 16
                             ? __mmask16{0xffff}
                             : static_cast<__mmask16>((1u << (w.cols - k)) - 1);
  __m512 xv[NX];
  for (int j = 0; j < NX; ++j)
    xv[j] = _mm512_maskz_loadu_ps(mask, x + j * x_stride + k);
  for (int i = 0; i < NW; ++i) {
    const uint8_t* row = w.data + (r + i) * w.row_bytes;
    _mm_prefetch(
        reinterpret_cast<const char*>(row + k * kElementBytes + kPrefetchBytes),
        _MM_HINT_T0);
    const __m512 wv = LoadWeights<kF16>(row, k, mask);
    for (int j = 0; j < NX; ++j)
      acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
  }
}

// Two accumulator sets (alternate 16-column chunks) keep FMA chains short.
template <bool kF16, int NW, int NX>
void FloatTile(const MatrixRef& w, int64_t r, const float* x, int64_t x_stride,
               float* y, int64_t y_stride, bool accumulate) {
  __m512 even[NW][NX], odd[NW][NX];
  for (int i = 0; i < NW; ++i) {
    for (int j = 0; j < NX; ++j) even[i][j] = odd[i][j] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < w.cols; k += 32) {
    FloatChunk<kF16, NW, NX>(w, r, x, x_stride, k, even);
    if (k + 16 < w.cols)
      FloatChunk<kF16, NW, NX>(w, r, x, x_stride, k + 16, odd);
  }
  for (int i = 0; i < NW; ++i) {
    for (int j = 0; j < NX; ++j) {
      float& out = y[j * y_stride + r + i];
      const float v =
          _mm512_reduce_add_ps(_mm512_add_ps(even[i][j], odd[i][j]));
      out = accumulate ? out + v : v;
    }
  }
}

template <bool kF16, int NW>
void FloatRowGroup(const MatrixRef& w, int64_t r, const float* x, int64_t n,
                   int64_t x_stride, float* y, int64_t y_stride,
                   bool accumulate) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    FloatTile<kF16, NW, 4>(w, r, x + j * x_stride, x_stride, y + j * y_stride,
                           y_stride, accumulate);
  }
  const float* xj = x + j * x_stride;
  float* yj = y + j * y_stride;
  switch (n - j) {
    case 3:
      return FloatTile<kF16, NW, 3>(w, r, xj, x_stride, yj, y_stride,
                                    accumulate);
    case 2:
      return FloatTile<kF16, NW, 2>(w, r, xj, x_stride, yj, y_stride,
                                    accumulate);
    case 1:
      return FloatTile<kF16, NW, 1>(w, r, xj, x_stride, yj, y_stride,
                                    accumulate);
    default:
      return;
  }
}

template <bool kF16>
void FloatMatMulFormat(const MatrixRef& w, int64_t r0, int64_t r1,
                       const float* x, int64_t n, int64_t x_stride, float* y,
                       int64_t y_stride, bool accumulate) {
  int64_t r = r0;
  // Decode-sized batches stream one row at a time (a single sequential
  // stream); larger ones reuse each x chunk across two weight rows.
  if (n > kMaxMatVecRows) {
    for (; r + 2 <= r1; r += 2) {
      FloatRowGroup<kF16, 2>(w, r, x, n, x_stride, y, y_stride, accumulate);
    }
  }
  for (; r < r1; ++r) {
    FloatRowGroup<kF16, 1>(w, r, x, n, x_stride, y, y_stride, accumulate);
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

const CpuKernels kAvx512Kernels = {
    .isa = CpuIsa::kAvx512Vnni,
    .q8_0_offset = 128,
    .q4_0_offset = 8,
    .quant_matvec = QuantMatVec,
    .quant_gemm = Avx512QuantGemm,
    .gemm_scratch_bytes = Avx512GemmScratchBytes,
    .float_matmul = FloatMatMul,
    .q4_0_stream = true,
    .q4_0_tiles = true,
};

}  // namespace

TESSERA_TARGET_POP()

const CpuKernels* Avx512VnniKernels() { return &kAvx512Kernels; }
#else
const CpuKernels* Avx512VnniKernels() { return nullptr; }
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
