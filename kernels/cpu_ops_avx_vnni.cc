// AVX-VNNI kernels for x86-64 CPUs with the 256-bit, VEX-encoded vpdpbusd
// but without AVX-512 (Intel Alder Lake and later, among them the N100;
// AMD Zen 5 also has it), compiled with a target attribute and chosen by
// CPUID at run time.
//
// Integer formats use vpdpbusd (unsigned x signed bytes, summed in fours
// into int32 lanes without saturation), as the AVX-512 VNNI table does with
// 512-bit registers: weight bytes are made unsigned (Q8_0: w ^ 0x80 =
// w + 128; Q4_0: the raw nibble = w + 8) and the activations' precomputed
// -offset * sum corrections seed the accumulators, so the AVX2 table's sign
// trick and int16 partial sums disappear.
//
//  * matvec (decode, memory bound): straight from the GGUF layout, one row
//    at a time so the weights are a single sequential stream, prefetched
//    kPrefetchBytes ahead; one block per 256-bit step, alternating between
//    two accumulator sets, per-block scales applied in float lanes (their
//    fp16 conversion done 8 blocks at a time). On one AMD Zen 5 core
//    (portable build, matrix in cache) this runs Q8_0 at ~42 and Q4_0 at
//    ~22 GB/s of weights, against ~34 and ~17 for the AVX2 table: the
//    per-block instructions, not memory, bound Q4_0 decode on 2 threads.
//  * gemm (prefill, compute bound): the 16-row panel gemm of
//    cpu_ops_x86_gemm.inc with one vpdpbusd per weight quad, 8 rows and
//    activation row.
//  * float weights: the AVX2 table's kernel (cpu_ops_avx2.h).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu_ops_avx2.h"
#include "kernels/cpu_ops_dispatch.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/unaligned.h"
#include "kernels/x86_intrinsics.h"

#if TESSERA_X86_KERNELS
TESSERA_TARGET_PUSH("avx2,fma,f16c,avxvnni")
#include "kernels/cpu_ops_x86_gemm.inc"
#endif

namespace tessera::kernels {

#if TESSERA_X86_KERNELS
namespace {

// How far ahead of the computation the weight stream is prefetched (see
// cpu_ops_avx512.cc).
constexpr int64_t kPrefetchBytes = 16384;

// Accumulator sets of the decode kernels, used by consecutive blocks in
// turn so that their FMA chains overlap (4 measured no faster, and would
// not leave registers for kMaxMatVecRows activation rows).
constexpr int kChains = 2;

// Unsigned weight bytes of one block (32 values, in element order).
template <bool kQ4>
inline __m256i LoadBlock(const uint8_t* blk) {
  if constexpr (kQ4) {
    // Both 128-bit lanes hold the 16 quant bytes; shifting the high lane
    // by 4 brings its high nibbles down.
    const __m256i v = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
    return _mm256_and_si256(
        _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)),
        _mm256_set1_epi8(0x0f));
  } else {
    return _mm256_xor_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)),
        _mm256_set1_epi8(static_cast<char>(0x80)));
  }
}

// Decode: block b of a weight row against NA activation rows, accumulated
// into acc with the scales dw * da[n] in scale[n] (all lanes).
template <bool kQ4, int NA>
inline void MatVecBlock(const uint8_t* row, int64_t b, const QuantizedRows& x,
                        const __m256 (&scale)[NA], __m256 (&acc)[NA]) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const __m256i u = LoadBlock<kQ4>(row + b * kBytes);
  for (int n = 0; n < NA; ++n) {
    const __m256i dot = _mm256_dpbusd_avx_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
            x.quad_corr + n * (x.cols / 4) + b * 8)),
        u,
        _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(x.qs + n * x.cols + b * 32)));
    acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale[n], acc[n]);
  }
}

// The fp16 scales of the 8 blocks from `blk`, as floats.
template <bool kQ4>
inline __m256 WeightScales8(const uint8_t* blk) {
  constexpr int kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const auto h = [blk](int i) {
    return static_cast<short>(LoadU16(blk + i * kBytes));
  };
  return _mm256_cvtph_ps(
      _mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)));
}

// Decode: blocks b..b+7 of a weight row against NA activation rows; their
// scales are computed 8 at a time and spread by a permute, which costs
// fewer instructions per block than converting each scale on its own.
template <bool kQ4, int NA>
inline void MatVecGroup(const uint8_t* row, int64_t b, const QuantizedRows& x,
                        __m256 (&acc)[kChains][NA]) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const uint8_t* blk = row + b * kBytes;
  for (int64_t off = 0; off < 8 * kBytes; off += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(blk + off + kPrefetchBytes),
                 _MM_HINT_T0);
  }
  const __m256 dw = WeightScales8<kQ4>(blk);
  __m256 ds[NA];
  for (int n = 0; n < NA; ++n) {
    ds[n] = _mm256_mul_ps(dw, _mm256_loadu_ps(x.scales + n * x.blocks + b));
  }
  for (int i = 0; i < 8; ++i) {
    __m256 scale[NA];
    for (int n = 0; n < NA; ++n) {
      scale[n] = _mm256_permutevar8x32_ps(ds[n], _mm256_set1_epi32(i));
    }
    MatVecBlock<kQ4, NA>(row, b + i, x, scale, acc[i % kChains]);
  }
}

// Decode: one block with its scales converted one at a time (row tails).
template <bool kQ4, int NA>
inline void MatVecSingle(const uint8_t* row, int64_t b, const QuantizedRows& x,
                         __m256 (&acc)[NA]) {
  constexpr int64_t kBytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const float dw = _cvtsh_ss(static_cast<uint16_t>(LoadU16(row + b * kBytes)));
  __m256 scale[NA];
  for (int n = 0; n < NA; ++n) {
    scale[n] = _mm256_set1_ps(dw * x.scales[n * x.blocks + b]);
  }
  MatVecBlock<kQ4, NA>(row, b, x, scale, acc);
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Decode: rows [r0, r1) against NA activation rows, one row at a time (a
// single sequential stream), alternating blocks between two accumulator
// sets so that consecutive blocks' FMA chains overlap.
template <bool kQ4, int NA>
void MatVecRows(const MatrixRef& w, int64_t r0, int64_t r1,
                const QuantizedRows& x, float* y, int64_t y_stride,
                bool accumulate) {
  const int64_t nb = x.blocks;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + r * w.row_bytes;
    __m256 acc[kChains][NA];
    for (auto& chain : acc) {
      for (__m256& a : chain) a = _mm256_setzero_ps();
    }
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) MatVecGroup<kQ4, NA>(row, b, x, acc);
    for (; b < nb; ++b) MatVecSingle<kQ4, NA>(row, b, x, acc[b % kChains]);
    for (int n = 0; n < NA; ++n) {
      float& out = y[n * y_stride + r];
      const float v = HorizontalSum(_mm256_add_ps(acc[0][n], acc[1][n]));
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

// The gemm's block dot product (cpu_ops_x86_gemm.inc): with unsigned weight
// bytes one vpdpbusd per quad suffices, seeded with the block correction.
// Register budget (16 ymm) for kTileRows = 4: 8 integer accumulators, two
// weight registers and a broadcast. On one Zen 5 core (portable build)
// tiles of 3, 4, 5, 6 and 8 rows ran at ~165, ~173, ~174, ~176 and ~101
// GMAC/s (8 spills); 4 leaves registers to spare on smaller cores.
template <bool kQ4Weights>
struct VnniDot {
  static constexpr bool kQ4 = kQ4Weights;
  static constexpr bool kUnsignedQ8 = true;
  static constexpr int kTileRows = 4;

  template <int NR>
  static void Block(const uint8_t* p, const int8_t* a, int64_t x_cols,
                    const int32_t* corr, int64_t x_blocks,
                    __m256i (&s)[NR][2]) {
    for (int n = 0; n < NR; ++n) {
      s[n][0] = s[n][1] = _mm256_set1_epi32(corr[n * x_blocks]);
    }
    for (int q = 0; q < 8; ++q) {
      const __m256i w0 = LoadQuad(p, q, 0), w1 = LoadQuad(p, q, 1);
      for (int n = 0; n < NR; ++n) {
        const __m256i av = BroadcastQuad(a + n * x_cols, q);
        s[n][0] = _mm256_dpbusd_avx_epi32(s[n][0], w0, av);
        s[n][1] = _mm256_dpbusd_avx_epi32(s[n][1], w1, av);
      }
    }
  }
};

void QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
               const QuantizedRows& x, float* y, int64_t y_stride,
               bool accumulate, uint8_t* scratch) {
  if (w.format == GgmlType::kQ4_0) {
    PanelGemm<VnniDot<true>>(w, r0, r1, x, y, y_stride, accumulate, scratch);
  } else {
    PanelGemm<VnniDot<false>>(w, r0, r1, x, y, y_stride, accumulate, scratch);
  }
}

const CpuKernels kAvxVnniKernels = {
    .isa = CpuIsa::kAvxVnni,
    .q8_0_offset = 128,
    .q4_0_offset = 8,
    .quant_matvec = QuantMatVec,
    .quant_gemm = QuantGemm,
    .gemm_scratch_bytes = PanelGemmScratchBytes,
    .float_matmul = avx2::FloatMatMul,
    .q4_0_stream = false,
};

}  // namespace
TESSERA_TARGET_POP()

const CpuKernels* AvxVnniKernels() { return &kAvxVnniKernels; }
#else
const CpuKernels* AvxVnniKernels() { return nullptr; }
#endif  // TESSERA_X86_KERNELS

}  // namespace tessera::kernels
