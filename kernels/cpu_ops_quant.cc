#include "kernels/cpu_ops_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/q4_tiles.h"
#include "kernels/simd.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kBlock = 32;

// One block: returns the scale and writes the 32 quantised values.
inline float QuantizeBlock(const float* x, int8_t* q) {
#if TESSERA_SIMD_AVX512
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const float amax =
      _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
  const float d = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  // cvtps rounds to nearest even (default MXCSR), as nearbyint below.
  const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, id));
  const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, id));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(qlo));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16),
                   _mm512_cvtsepi32_epi8(qhi));
  return d;
#else
  float amax = 0;
  for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < kBlock; ++j) {
    const float v = std::nearbyint(x[j] * id);
    q[j] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
  }
  return d;
#endif
}

// Sums of each four consecutive bytes of `bytes` (quads x 4, quads <= 16),
// into sums.
inline void QuadSums(const int8_t* bytes, int64_t quads, int32_t* sums) {
#if TESSERA_SIMD_AVX512 && defined(__AVX512VNNI__)
  if (quads == 16) {
    // vpdpbusd against unsigned ones: each 32-bit lane sums its 4 bytes.
    _mm512_storeu_si512(
        sums, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1),
                                  _mm512_loadu_si512(bytes)));
    return;
  }
#endif
  for (int64_t i = 0; i < quads; ++i) {
    sums[i] = bytes[4 * i] + bytes[4 * i + 1] + bytes[4 * i + 2] +
              bytes[4 * i + 3];
  }
}

}  // namespace

void QuantizeRow(const float* x, int64_t cols, int32_t offset, int8_t* qs,
                 float* scales, int32_t* block_corr, int32_t* quad_corr) {
  const int64_t blocks = cols / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    scales[b] = QuantizeBlock(x + b * kBlock, qs + b * kBlock);
  }
  // Corrections two blocks (16 quads) at a time; an odd last block alone.
  for (int64_t b = 0; b < blocks; b += 2) {
    const int64_t pair = std::min<int64_t>(2, blocks - b);
    int32_t sums[16];
    QuadSums(qs + b * kBlock, 8 * pair, sums);
    for (int64_t k = 0; k < pair; ++k) {
      int32_t block_sum = 0;
      for (int64_t i = 8 * k; i < 8 * k + 8; ++i) {
        quad_corr[b * 8 + i] = -offset * sums[i];
        block_sum += sums[i];
      }
      block_corr[b + k] = -offset * block_sum;
    }
  }
}

void StreamRow(const int8_t* qs, const float* scales, int64_t blocks,
               int32_t offset, uint8_t* stream) {
  constexpr int64_t kBlockBytes = 18;  // Q4_0: fp16 scale + 16 bytes
  const int64_t supers = (blocks + kQ4StreamBlocks - 1) / kQ4StreamBlocks;
  std::memset(stream, 0, supers * kQ4StreamBytes);
  for (int64_t s = 0; s < supers; ++s) {
    uint8_t* out = stream + s * kQ4StreamBytes;
    auto* lo = reinterpret_cast<int8_t*>(out + kQ4StreamLo);
    auto* hi = reinterpret_cast<int8_t*>(out + kQ4StreamHi);
    auto* corr = reinterpret_cast<int32_t*>(out + kQ4StreamCorr);
    auto* scale = reinterpret_cast<float*>(out + kQ4StreamScale);
    const int64_t count =
        std::min(kQ4StreamBlocks, blocks - s * kQ4StreamBlocks);
    for (int64_t b = 0; b < count; ++b) {
      const int8_t* q = qs + (s * kQ4StreamBlocks + b) * kBlock;
      std::memcpy(lo + b * kBlockBytes + 2, q, 16);
      std::memcpy(hi + b * kBlockBytes + 2, q + 16, 16);
    }
    // Lanes past the row see zero bytes, so their corrections are 0 too.
    int32_t lo_sums[16], hi_sums[16];
    for (int64_t v = 0; v < kQ4StreamWeightBytes / 64; ++v) {
      QuadSums(lo + 64 * v, 16, lo_sums);
      QuadSums(hi + 64 * v, 16, hi_sums);
      for (int64_t i = 0; i < 16; ++i) {
        corr[16 * v + i] = -offset * (lo_sums[i] + hi_sums[i]);
      }
    }
    for (int64_t lane = 0; lane * 4 < count * kBlockBytes; ++lane) {
      scale[lane] = scales[s * kQ4StreamBlocks + 4 * lane / kBlockBytes];
    }
  }
}

void QuantizedActivations::Quantize(const float* x, int64_t n, int64_t cols,
                                    int64_t x_stride, int32_t offset,
                                    bool stream, ThreadPool* pool,
                                    bool tiles) {
  const int64_t blocks = cols / kBlock;
  const int64_t supers =
      stream ? (blocks + kQ4StreamBlocks - 1) / kQ4StreamBlocks : 0;
  auto round = [](int64_t bytes) { return (bytes + 63) & ~int64_t{63}; };
  // Layout: qs | scales | block_corr | quad_corr | stream, each 64-byte
  // aligned.
  const int64_t qs_bytes = round(n * cols);
  const int64_t block_bytes = round(n * blocks * 4);
  const int64_t quad_bytes = round(n * cols);
  const int64_t stream_bytes = n * supers * kQ4StreamBytes;
  const int64_t tile_row_bytes = tiles ? Q4Tiles(blocks) * kQ4TileActBytes : 0;
  uint8_t* base = storage_.Reserve(qs_bytes + 2 * block_bytes + quad_bytes +
                                   stream_bytes + n * tile_row_bytes);
  auto* qs = reinterpret_cast<int8_t*>(base);
  auto* scales = reinterpret_cast<float*>(base += qs_bytes);
  auto* block_corr = reinterpret_cast<int32_t*>(base += block_bytes);
  auto* quad_corr = reinterpret_cast<int32_t*>(base += block_bytes);
  uint8_t* stream_data = base += quad_bytes;
  uint8_t* tile_data = base += stream_bytes;
  rows_ =
      QuantizedRows{n, cols, blocks, offset, qs, scales, block_corr, quad_corr};
  if (supers > 0) {
    rows_.supers = supers;
    rows_.stream = stream_data;
  }
  if (tiles) rows_.tiles = tile_data;
  auto rows = [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      QuantizeRow(x + r * x_stride, cols, offset, qs + r * cols,
                  scales + r * blocks, block_corr + r * blocks,
                  quad_corr + r * (cols / 4));
      if (supers > 0) {
        StreamRow(qs + r * cols, scales + r * blocks, blocks, offset,
                  stream_data + r * supers * kQ4StreamBytes);
      }
      if (tiles) {
        TileActivationRow(qs + r * cols, scales + r * blocks,
                          block_corr + r * blocks, blocks,
                          tile_data + r * tile_row_bytes);
      }
    }
  };
  if (pool != nullptr && n >= 8) {
    pool->ParallelFor(n, std::max<int64_t>(1, n / (4 * pool->num_threads())),
                      rows);
  } else {
    rows(0, n, 0);
  }
}

}  // namespace tessera::kernels
