// AVX2 prefill gemm (see cpu_ops_avx2_gemm.h), compiled with the same
// target attribute as cpu_ops_avx2.cc.
//
// Like the AVX-512 gemm, a panel of kGemmPanelRows = 16 weight rows is
// repacked "quad-interleaved" (each 32-bit lane holds 4 consecutive bytes
// of one row), here as two 256-bit halves of 8 rows, so that one vpmaddubsw
// with a broadcast activation quad advances 8 output rows at once; the
// panel is then reused across all activation rows, kTileRows at a time,
// each weight load serving kTileRows activation rows and each activation
// broadcast both halves. vpmaddubsw saturates its int16 pair sums, hence:
//  * Q8_0: the sign trick |w| * sign(a, w) (pairs below 2 * 128 * 127),
//    every product widened at once by vpmaddwd with ones into int32:
//    about 35 instructions per 8 rows x 1 activation row x 1 block;
//  * Q4_0: raw nibbles u = w + 8 (pairs below 2 * 15 * 127), so the 8
//    quads of a block are summed in int16 (below 16 * 15 * 127 = 30480)
//    before a single vpmaddwd, and the activations' block correction
//    -8 * sum(a) is added in int32: about 20 instructions for the same.
// Per-block scales (weight row x activation row) are applied in float.
// The repacking is a 4 x 4 transpose of 32-bit words per lane, so it costs
// little next to the multiplications even for short batches.
//
// Register budget (16 ymm on AVX2-only CPUs) for kTileRows = 3: the quad
// loop keeps 6 integer accumulators, one quad of weights (two registers,
// plus their absolute values for Q8_0), a broadcast and a temporary; the 6
// float accumulators, touched once per block, may live on the stack. Sums
// are pinned in order (Pin) because GCC otherwise reassociates the unrolled
// chains into trees whose partial results spill. On one AMD Zen 5 core
// (portable build) tiles of 2, 3 and 4 rows measured within noise of each
// other (Q8_0 ~80, Q4_0 ~140 GMAC/s); 3 fits the registers with room.
#include "kernels/cpu_ops_avx2_gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/unaligned.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels::avx2 {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH("avx2,fma,f16c")

namespace {

// Repacked panel, block by block (64-byte aligned):
//   bytes 0..63:           the 16 rows' weight scales (float);
//   bytes 64 + 64q + 32h + 4j, 4 bytes: quad q of row 8h + j, i.e. values
//     4q..4q+3 (Q8_0: signed bytes w; Q4_0: nibbles w + 8, quads 0..3 from
//     the low nibbles = values 0..15, quads 4..7 from the high nibbles =
//     values 16..31, in the order the activations store them).
// Rows past the matrix are zero (scale 0 and weights 0).
constexpr int64_t kPanelBlockBytes = 64 + 8 * 64;
// Activation rows per register tile (see the register budget above).
constexpr int kTileRows = 3;

// Returns v unchanged through an empty asm statement, which keeps the
// compiler from reassociating a chain of integer sums into a tree whose
// partial results outnumber the registers.
inline __m256i Pin(__m256i v) {
  asm("" : "+x"(v));
  return v;
}

// 4 x 4 transposes of 32-bit words in both 128-bit lanes: from v[r] =
// (row r words 0..3 | row r + 4 words 0..3), r < 4, makes out[k] = (words k
// of rows 0..3 | words k of rows 4..7), the lane order of a panel half.
inline void TransposeQuads(const __m256i (&v)[4], __m256i (&out)[4]) {
  const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]);
  const __m256i t1 = _mm256_unpackhi_epi32(v[0], v[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]);
  const __m256i t3 = _mm256_unpackhi_epi32(v[2], v[3]);
  out[0] = _mm256_unpacklo_epi64(t0, t2);
  out[1] = _mm256_unpackhi_epi64(t0, t2);
  out[2] = _mm256_unpacklo_epi64(t1, t3);
  out[3] = _mm256_unpackhi_epi64(t1, t3);
}

// 16 bytes at byte `offset` of block b of rows 8h + r and 8h + r + 4.
inline __m256i LoadRowPair(const uint8_t* const (&src)[16],
                           const int64_t (&step)[16], int h, int r, int64_t b,
                           int offset) {
  const int lo = 8 * h + r, hi = lo + 4;
  return _mm256_loadu2_m128i(
      reinterpret_cast<const __m128i*>(src[hi] + b * step[hi] + offset),
      reinterpret_cast<const __m128i*>(src[lo] + b * step[lo] + offset));
}

// Repacks rows [r0, r0 + 16) into `panel`; rows past the matrix read an
// all-zero block (scale 0, quants 0) instead.
template <bool kQ4>
void RepackPanel(const MatrixRef& w, int64_t r0, uint8_t* panel) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  static constexpr uint8_t kZeroBlock[kQ8_0BlockBytes] = {};
  const uint8_t* src[kGemmPanelRows];
  int64_t step[kGemmPanelRows];
  for (int64_t i = 0; i < kGemmPanelRows; ++i) {
    const bool valid = r0 + i < w.rows;
    src[i] = valid ? w.data + (r0 + i) * w.row_bytes : kZeroBlock;
    step[i] = valid ? kBytes : 0;
  }
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < w.cols / 32; ++b) {
    uint8_t* p = panel + b * kPanelBlockBytes;
    alignas(32) uint16_t d[kGemmPanelRows];
    for (int i = 0; i < kGemmPanelRows; ++i) {
      d[i] = static_cast<uint16_t>(LoadU16(src[i] + b * step[i]));
    }
    for (int h = 0; h < 2; ++h) {
      _mm256_store_ps(reinterpret_cast<float*>(p) + 8 * h,
                      _mm256_cvtph_ps(_mm_load_si128(
                          reinterpret_cast<const __m128i*>(d + 8 * h))));
      __m256i v[4], lo[4];
      for (int r = 0; r < 4; ++r) v[r] = LoadRowPair(src, step, h, r, b, 2);
      TransposeQuads(v, lo);
      __m256i hi[4];
      if constexpr (kQ4) {
        for (int k = 0; k < 4; ++k) {
          hi[k] = _mm256_and_si256(_mm256_srli_epi16(lo[k], 4), nibble);
          lo[k] = _mm256_and_si256(lo[k], nibble);
        }
      } else {
        for (int r = 0; r < 4; ++r) v[r] = LoadRowPair(src, step, h, r, b, 18);
        TransposeQuads(v, hi);
      }
      for (int k = 0; k < 4; ++k) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(p + 64 + 64 * k + 32 * h),
                           lo[k]);
        _mm256_store_si256(
            reinterpret_cast<__m256i*>(p + 64 + 64 * (k + 4) + 32 * h), hi[k]);
      }
    }
  }
}

// Quad q of panel half h (8 rows) of the block at `p`.
inline __m256i LoadQuad(const uint8_t* p, int q, int h) {
  return _mm256_load_si256(
      reinterpret_cast<const __m256i*>(p + 64 + 64 * q + 32 * h));
}

// Activation quad q (values 4q..4q+3) of the block at `a`, in every lane.
inline __m256i BroadcastQuad(const int8_t* a, int q) {
  return _mm256_set1_epi32(static_cast<int>(LoadU32(a + 4 * q)));
}

// acc + v, or v for the first term (q == 0) of a sum.
inline __m256i AddEpi16(int q, __m256i acc, __m256i v) {
  return q == 0 ? v : Pin(_mm256_add_epi16(acc, v));
}
inline __m256i AddEpi32(int q, __m256i acc, __m256i v) {
  return q == 0 ? v : Pin(_mm256_add_epi32(acc, v));
}

// Integer dot products of one panel block with NR activation blocks `a`
// (x_cols apart): s[n][h] lane j = sum over the block of w[8h + j] * a[n],
// the Q4_0 correction `corr` (x_blocks apart) included.
template <int NR>
inline void Q4Block(const uint8_t* p, const int8_t* a, int64_t x_cols,
                    const int32_t* corr, int64_t x_blocks,
                    __m256i (&s)[NR][2]) {
  __m256i pairs[NR][2] = {};
  for (int q = 0; q < 8; ++q) {
    const __m256i w0 = LoadQuad(p, q, 0), w1 = LoadQuad(p, q, 1);
    for (int n = 0; n < NR; ++n) {
      const __m256i av = BroadcastQuad(a + n * x_cols, q);
      pairs[n][0] = AddEpi16(q, pairs[n][0], _mm256_maddubs_epi16(w0, av));
      pairs[n][1] = AddEpi16(q, pairs[n][1], _mm256_maddubs_epi16(w1, av));
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int n = 0; n < NR; ++n) {
    const __m256i c = _mm256_set1_epi32(corr[n * x_blocks]);
    for (int h = 0; h < 2; ++h) {
      s[n][h] = _mm256_add_epi32(_mm256_madd_epi16(pairs[n][h], ones), c);
    }
  }
}

template <int NR>
inline void Q8Block(const uint8_t* p, const int8_t* a, int64_t x_cols,
                    __m256i (&s)[NR][2]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int q = 0; q < 8; ++q) {
    const __m256i w0 = LoadQuad(p, q, 0), w1 = LoadQuad(p, q, 1);
    const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
    for (int n = 0; n < NR; ++n) {
      const __m256i av = BroadcastQuad(a + n * x_cols, q);
      const __m256i p0 = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, w0));
      const __m256i p1 = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, w1));
      s[n][0] = AddEpi32(q, s[n][0], _mm256_madd_epi16(p0, ones));
      s[n][1] = AddEpi32(q, s[n][1], _mm256_madd_epi16(p1, ones));
    }
  }
}

// Adds the 16 values lo, hi to (or stores them in) out[0..rows).
inline void StoreRows(__m256 lo, __m256 hi, float* out, int64_t rows,
                      bool accumulate) {
  if (rows == kGemmPanelRows) {
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(out + 8));
    }
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
    return;
  }
  alignas(32) float tmp[kGemmPanelRows];
  _mm256_store_ps(tmp, lo);
  _mm256_store_ps(tmp + 8, hi);
  for (int64_t i = 0; i < rows; ++i) {
    out[i] = accumulate ? out[i] + tmp[i] : tmp[i];
  }
}

// One repacked panel (`rows` <= 16 valid rows from r0) x NR activation rows
// from n0.
template <bool kQ4, int NR>
void PanelKernel(const uint8_t* panel, const QuantizedRows& x, int64_t n0,
                 float* y, int64_t y_stride, int64_t r0, int64_t rows,
                 bool accumulate) {
  const int64_t nb = x.blocks;
  __m256 acc[NR][2];
  for (int n = 0; n < NR; ++n) acc[n][0] = acc[n][1] = _mm256_setzero_ps();
  const int8_t* a = x.qs + n0 * x.cols;
  const float* da = x.scales + n0 * nb;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = panel + b * kPanelBlockBytes;
    __m256i s[NR][2];
    if constexpr (kQ4) {
      Q4Block<NR>(p, a + b * 32, x.cols, x.block_corr + n0 * nb + b, nb, s);
    } else {
      Q8Block<NR>(p, a + b * 32, x.cols, s);
    }
    for (int n = 0; n < NR; ++n) {
      const __m256 dan = _mm256_broadcast_ss(da + n * nb + b);
      for (int h = 0; h < 2; ++h) {
        const __m256 f = _mm256_mul_ps(
            _mm256_cvtepi32_ps(s[n][h]),
            _mm256_load_ps(reinterpret_cast<const float*>(p) + 8 * h));
        acc[n][h] = _mm256_fmadd_ps(f, dan, acc[n][h]);
      }
    }
  }
  for (int n = 0; n < NR; ++n) {
    StoreRows(acc[n][0], acc[n][1], y + (n0 + n) * y_stride + r0, rows,
              accumulate);
  }
}

template <bool kQ4, int NR>
void PanelTail(int rest, const uint8_t* panel, const QuantizedRows& x,
               int64_t n0, float* y, int64_t y_stride, int64_t r0, int64_t rows,
               bool accumulate) {
  if constexpr (NR > 0) {
    if (rest == NR) {
      return PanelKernel<kQ4, NR>(panel, x, n0, y, y_stride, r0, rows,
                                  accumulate);
    }
    PanelTail<kQ4, NR - 1>(rest, panel, x, n0, y, y_stride, r0, rows,
                           accumulate);
  }
}

template <bool kQ4>
void QuantGemmFormat(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch) {
  for (int64_t p0 = r0; p0 < r1; p0 += kGemmPanelRows) {
    RepackPanel<kQ4>(w, p0, scratch);
    const int64_t rows = std::min<int64_t>(kGemmPanelRows, r1 - p0);
    int64_t n = 0;
    for (; n + kTileRows <= x.rows; n += kTileRows) {
      PanelKernel<kQ4, kTileRows>(scratch, x, n, y, y_stride, p0, rows,
                                  accumulate);
    }
    PanelTail<kQ4, kTileRows - 1>(static_cast<int>(x.rows - n), scratch, x, n,
                                  y, y_stride, p0, rows, accumulate);
  }
}

void QuantGemmImpl(const MatrixRef& w, int64_t r0, int64_t r1,
                   const QuantizedRows& x, float* y, int64_t y_stride,
                   bool accumulate, uint8_t* scratch) {
  if (w.format == GgmlType::kQ4_0) {
    QuantGemmFormat<true>(w, r0, r1, x, y, y_stride, accumulate, scratch);
  } else {
    QuantGemmFormat<false>(w, r0, r1, x, y, y_stride, accumulate, scratch);
  }
}

}  // namespace

TESSERA_TARGET_POP()

// Plain entry points: calls through the kernel table need no attribute.
void QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
               const QuantizedRows& x, float* y, int64_t y_stride,
               bool accumulate, uint8_t* scratch) {
  QuantGemmImpl(w, r0, r1, x, y, y_stride, accumulate, scratch);
}

int64_t GemmScratchBytes(int64_t cols) { return cols / 32 * kPanelBlockBytes; }
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels::avx2
