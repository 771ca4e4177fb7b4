// AVX-512 VNNI prefill kernel (see cpu_ops_avx512.h): a panel of 16 weight
// rows is repacked so that each 32-bit lane holds 4 bytes of one row
// ("quad-interleaved"); one vpdpbusd with a broadcast activation quad then
// advances 16 output rows at once, and each panel is reused across all
// activation rows. Weight bytes are made unsigned as in the decode kernels
// (Q8_0: w ^ 0x80; Q4_0: the raw nibble) and the activations' per-block
// corrections seed the accumulators.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_avx512.h"
#include "kernels/q4_tiles.h"
#include "kernels/unaligned.h"
#include "kernels/x86_intrinsics.h"

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH(TESSERA_AVX512_TARGET)

namespace {

// Repacked panel block: 16 float scales, then 8 quads x 16 rows x 4 bytes.
constexpr int64_t kPanelBlockBytes = 64 + 8 * 64;

// Repacks rows [r0, r0 + 16) (zero-padded past the matrix) into `panel`.
template <bool kQ4>
void RepackPanel(const MatrixRef& w, int64_t r0, uint8_t* panel) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const int64_t nb = w.cols / 32;
  const int64_t rows = std::min<int64_t>(kGemmPanelRows, w.rows - r0);
  for (int64_t i = 0; i < kGemmPanelRows; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* p = panel + b * kPanelBlockBytes;
      auto* d = reinterpret_cast<float*>(p);
      auto* quads = reinterpret_cast<uint32_t*>(p + 64);
      if (i >= rows) {
        d[i] = 0;
        for (int q = 0; q < 8; ++q) quads[q * 16 + i] = 0;
        continue;
      }
      const uint8_t* row = w.data + (r0 + i) * w.row_bytes;
      const uint8_t* blk = row + b * kBytes;
      if constexpr (kQ4) {
        // Block b's scale and quads: in place, or scattered over its tile.
        Q4TiledBlock at{blk, blk + 2, 4};
        if (w.q4_tiled) at = LocateTiledBlock(row, nb, b);
        d[i] = _cvtsh_ss(static_cast<uint16_t>(LoadU16(at.scale)));
        for (int q = 0; q < 4; ++q) {
          const uint32_t v = LoadU32(at.quads + q * at.quad_stride);
          quads[q * 16 + i] = v & 0x0f0f0f0fu;
          quads[(q + 4) * 16 + i] = (v >> 4) & 0x0f0f0f0fu;
        }
      } else {
        d[i] = _cvtsh_ss(static_cast<uint16_t>(LoadU16(blk)));
        for (int q = 0; q < 8; ++q) {
          quads[q * 16 + i] = LoadU32(blk + 2 + 4 * q) ^ 0x80808080u;
        }
      }
    }
  }
}

// 16 weight rows (one repacked panel) x NR activation rows from n0.
template <int NR>
void PanelKernel(const uint8_t* panel, const QuantizedRows& x, int64_t n0,
                 float* y, int64_t y_stride, int64_t r0, __mmask16 mask,
                 bool accumulate) {
  const int64_t nb = x.blocks;
  __m512 acc[NR];
  for (int n = 0; n < NR; ++n) acc[n] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = panel + b * kPanelBlockBytes;
    const __m512 dw = _mm512_load_ps(p);
    __m512i wq[8];
    for (int q = 0; q < 8; ++q) wq[q] = _mm512_load_si512(p + 64 + 64 * q);
#pragma GCC unroll 16
    for (int n = 0; n < NR; ++n) {
      const int64_t row = n0 + n;
      const int8_t* a = x.qs + row * x.cols + b * 32;
      __m512i s = _mm512_set1_epi32(x.block_corr[row * nb + b]);
      for (int q = 0; q < 8; ++q) {
        s = _mm512_dpbusd_epi32(
            s, wq[q], _mm512_set1_epi32(static_cast<int>(LoadU32(a + 4 * q))));
      }
      const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s),
                                     _mm512_set1_ps(x.scales[row * nb + b]));
      acc[n] = _mm512_fmadd_ps(f, dw, acc[n]);
    }
  }
  for (int n = 0; n < NR; ++n) {
    float* out = y + (n0 + n) * y_stride + r0;
    if (accumulate)
      acc[n] = _mm512_add_ps(acc[n], _mm512_maskz_loadu_ps(mask, out));
    _mm512_mask_storeu_ps(out, mask, acc[n]);
  }
}

constexpr int kGemmRows = 8;  // activation rows per register tile

template <int NR>
void PanelTail(int rest, const uint8_t* panel, const QuantizedRows& x,
               int64_t n0, float* y, int64_t y_stride, int64_t r0,
               __mmask16 mask, bool accumulate) {
  if constexpr (NR > 0) {
    if (rest == NR) {
      return PanelKernel<NR>(panel, x, n0, y, y_stride, r0, mask, accumulate);
    }
    PanelTail<NR - 1>(rest, panel, x, n0, y, y_stride, r0, mask, accumulate);
  }
}

}  // namespace

void Avx512QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch) {
  for (int64_t p0 = r0; p0 < r1; p0 += kGemmPanelRows) {
    if (w.format == GgmlType::kQ4_0) {
      RepackPanel<true>(w, p0, scratch);
    } else {
      RepackPanel<false>(w, p0, scratch);
    }
    const int64_t rows = std::min<int64_t>(kGemmPanelRows, r1 - p0);
    const auto mask = static_cast<__mmask16>((1u << rows) - 1);
    int64_t n = 0;
    for (; n + kGemmRows <= x.rows; n += kGemmRows) {
      PanelKernel<kGemmRows>(scratch, x, n, y, y_stride, p0, mask, accumulate);
    }
    PanelTail<kGemmRows - 1>(static_cast<int>(x.rows - n), scratch, x, n, y,
                             y_stride, p0, mask, accumulate);
  }
}

int64_t Avx512GemmScratchBytes(int64_t cols) {
  return cols / 32 * kPanelBlockBytes;
}

TESSERA_TARGET_POP()
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
