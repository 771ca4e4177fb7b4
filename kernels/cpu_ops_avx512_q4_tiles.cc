// AVX-512 VNNI decode kernel for Q4_0 weights in the tile layout
// (q4_tiles.h) against activations in its tile layout.
//
// Per full tile (16 blocks, 288 bytes) and weight row: four 64-byte parts,
// each split into low nibbles (w & 0x0f) and high nibbles kept in place
// (w & 0xf0, 16 x the value), two vpdpbusd chains of four (the high one
// divided by 16, exactly, at the end), then one conversion and one FMA with
// the 16 blocks' weight x activation scales. About 22 instructions per 288
// weight bytes, half the stream kernel's per byte (cpu_ops_avx512_q4.cc).
// Two rows are read side by side (two-stream decode, cpu_ops_avx512.h),
// sharing the activation loads; a row's last, partial tile uses masked
// loads.
#include <cstdint>

#include "kernels/cpu_ops_avx512.h"
#include "kernels/cpu_ops_dispatch.h"
#include "kernels/q4_tiles.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH(TESSERA_AVX512_TARGET)

namespace {

// One tile of NW weight rows (`tile[w]`, m blocks) against NA activation
// tiles, added into acc. kFull: m == 16, unmasked loads.
template <int NW, int NA, bool kFull>
inline void TileDots(const uint8_t* const (&tile)[NW], int64_t m,
                     const uint8_t* const (&act)[NA], __m512 (&acc)[NW][NA]) {
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __mmask64 part_mask =
      kFull ? ~__mmask64{0} : (__mmask64{1} << (4 * m)) - 1;
  __m512i lo_sum[NW][NA], hi_sum[NW][NA];
  for (int n = 0; n < NA; ++n) {
    const __m512i corr = _mm512_load_si512(act[n] + kQ4TileActCorr);
    for (int w = 0; w < NW; ++w) {
      lo_sum[w][n] = corr;
      hi_sum[w][n] = _mm512_setzero_si512();
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    __m512i lo[NW], hi[NW];
    for (int w = 0; w < NW; ++w) {
      const __m512i v =
          kFull ? _mm512_loadu_si512(tile[w] + 64 * k)
                : _mm512_maskz_loadu_epi8(part_mask, tile[w] + 4 * m * k);
      lo[w] = _mm512_and_si512(v, low);
      hi[w] = _mm512_andnot_si512(low, v);
    }
    for (int n = 0; n < NA; ++n) {
      const __m512i a_lo = _mm512_load_si512(act[n] + 64 * k);
      const __m512i a_hi = _mm512_load_si512(act[n] + kQ4TileActHi + 64 * k);
      for (int w = 0; w < NW; ++w) {
        lo_sum[w][n] = _mm512_dpbusd_epi32(lo_sum[w][n], lo[w], a_lo);
        hi_sum[w][n] = _mm512_dpbusd_epi32(hi_sum[w][n], hi[w], a_hi);
      }
    }
  }
  __m512 dw[NW];
  for (int w = 0; w < NW; ++w) {
    const __m256i scales =
        kFull ? _mm256_loadu_si256(
                    reinterpret_cast<const __m256i*>(tile[w] + 256))
              : _mm256_maskz_loadu_epi16(
                    static_cast<__mmask16>((1u << m) - 1), tile[w] + 16 * m);
    dw[w] = _mm512_cvtph_ps(scales);
  }
  for (int n = 0; n < NA; ++n) {
    const __m512 da = _mm512_load_ps(act[n] + kQ4TileActScale);
    for (int w = 0; w < NW; ++w) {
      const __m512i sum = _mm512_add_epi32(
          lo_sum[w][n], _mm512_srai_epi32(hi_sum[w][n], 4));
      acc[w][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                                  _mm512_mul_ps(dw[w], da), acc[w][n]);
    }
  }
}

// NW weight rows of `blocks` blocks (read side by side, each prefetched
// kPrefetchBytes ahead) against the NA activation rows, into out.
template <int NW, int NA>
inline void TileRowDots(const uint8_t* const (&rows)[NW], int64_t blocks,
                        const QuantizedRows& x, float (&out)[NW][NA]) {
  __m512 acc[NW][NA];
  for (auto& row : acc) {
    for (__m512& v : row) v = _mm512_setzero_ps();
  }
  const int64_t tiles = Q4Tiles(blocks);
  const int64_t act_row_bytes = tiles * kQ4TileActBytes;
  const int64_t full = blocks / kQ4TileBlocks;
  const uint8_t* prefetch[NW];
  for (int w = 0; w < NW; ++w) prefetch[w] = rows[w] + kPrefetchBytes;
  for (int64_t t = 0; t < tiles; ++t) {
    const uint8_t* tile[NW];
    for (int w = 0; w < NW; ++w) tile[w] = rows[w] + t * kQ4TileBytes;
    const uint8_t* act[NA];
    for (int n = 0; n < NA; ++n) {
      act[n] = x.tiles + n * act_row_bytes + t * kQ4TileActBytes;
    }
    if (t < full) {
      for (int w = 0; w < NW; ++w) {
        for (int line = 0; line < kQ4TileBytes; line += 64) {
          _mm_prefetch(reinterpret_cast<const char*>(prefetch[w] + line),
                       _MM_HINT_T0);
        }
        prefetch[w] += kQ4TileBytes;
      }
      TileDots<NW, NA, true>(tile, kQ4TileBlocks, act, acc);
    } else {
      TileDots<NW, NA, false>(tile, blocks - full * kQ4TileBlocks, act, acc);
    }
  }
  for (int w = 0; w < NW; ++w) {
    for (int n = 0; n < NA; ++n) out[w][n] = _mm512_reduce_add_ps(acc[w][n]);
  }
}

// Weight rows `r` (one or two) against the NA activation rows, into y.
template <int NA, int NW>
inline void TileRowGroup(const MatrixRef& w, const int64_t (&r)[NW],
                         const QuantizedRows& x, float* y, int64_t y_stride,
                         bool accumulate) {
  const uint8_t* rows[NW];
  for (int i = 0; i < NW; ++i) rows[i] = w.data + r[i] * w.row_bytes;
  float dots[NW][NA];
  TileRowDots<NW, NA>(rows, x.blocks, x, dots);
  for (int i = 0; i < NW; ++i) {
    for (int n = 0; n < NA; ++n) {
      float& o = y[n * y_stride + r[i]];
      o = accumulate ? o + dots[i][n] : dots[i][n];
    }
  }
}

template <int NA>
void TileRows(const MatrixRef& w, int64_t r0, int64_t r1,
              const QuantizedRows& x, float* y, int64_t y_stride,
              bool accumulate) {
  // Two weight rows at a time while the accumulators of both fit in
  // registers next to the activation loads.
  ForDecodeRows<(NA <= 2)>(r0, r1, [&](const auto& rows) {
    TileRowGroup<NA>(w, rows, x, y, y_stride, accumulate);
  });
}

}  // namespace

void Avx512Q4TileMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                        const QuantizedRows& x, float* y, int64_t y_stride,
                        bool accumulate) {
  ForMatVecRows(x.rows, [&](auto na) {
    TileRows<decltype(na)::value>(w, r0, r1, x, y, y_stride, accumulate);
  });
}

TESSERA_TARGET_POP()
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
