// AVX2 prefill gemm (see cpu_ops_avx2_gemm.h), compiled with the same
// target attribute as cpu_ops_avx2.cc: the 16-row panel gemm of
// cpu_ops_x86_gemm.inc (which describes the layout) with vpmaddubsw dot
// products. vpmaddubsw saturates its int16 pair sums, hence:
//  * Q8_0: the sign trick |w| * sign(a, w) (pairs below 2 * 128 * 127),
//    every product widened at once by vpmaddwd with ones into int32:
//    about 35 instructions per 8 rows x 1 activation row x 1 block;
//  * Q4_0: raw nibbles u = w + 8 (pairs below 2 * 15 * 127), so the 8
//    quads of a block are summed in int16 (below 16 * 15 * 127 = 30480)
//    before a single vpmaddwd, and the activations' block correction
//    -8 * sum(a) is added in int32: about 20 instructions for the same.
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

#include "kernels/cpu_ops_kernels.h"
#include "kernels/unaligned.h"
#include "kernels/x86_intrinsics.h"

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH("avx2,fma,f16c")
#include "kernels/cpu_ops_x86_gemm.inc"
#endif

namespace tessera::kernels::avx2 {

#if TESSERA_X86_KERNELS
namespace {

// acc + v, or v for the first term (q == 0) of a sum.
inline __m256i AddEpi16(int q, __m256i acc, __m256i v) {
  return q == 0 ? v : Pin(_mm256_add_epi16(acc, v));
}
inline __m256i AddEpi32(int q, __m256i acc, __m256i v) {
  return q == 0 ? v : Pin(_mm256_add_epi32(acc, v));
}

constexpr int kTileRows = 3;  // see the register budget above

struct Q4Dot {
  static constexpr bool kQ4 = true;
  static constexpr bool kUnsignedQ8 = false;
  static constexpr int kTileRows = avx2::kTileRows;

  template <int NR>
  static void Block(const uint8_t* p, const int8_t* a, int64_t x_cols,
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
};

struct Q8Dot {
  static constexpr bool kQ4 = false;
  static constexpr bool kUnsignedQ8 = false;
  static constexpr int kTileRows = avx2::kTileRows;

  template <int NR>
  static void Block(const uint8_t* p, const int8_t* a, int64_t x_cols,
                    const int32_t* /*corr*/, int64_t /*x_blocks*/,
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
};

void QuantGemmImpl(const MatrixRef& w, int64_t r0, int64_t r1,
                   const QuantizedRows& x, float* y, int64_t y_stride,
                   bool accumulate, uint8_t* scratch) {
  if (w.format == GgmlType::kQ4_0) {
    PanelGemm<Q4Dot>(w, r0, r1, x, y, y_stride, accumulate, scratch);
  } else {
    PanelGemm<Q8Dot>(w, r0, r1, x, y, y_stride, accumulate, scratch);
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

int64_t GemmScratchBytes(int64_t cols) { return PanelGemmScratchBytes(cols); }
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels::avx2
