#include "kernels/cpu_ops_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

}  // namespace

void QuantizeRow(const float* x, int64_t cols, int32_t offset, int8_t* qs,
                 float* scales, int32_t* block_corr, int32_t* quad_corr) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    int8_t* q = qs + b * kBlock;
    scales[b] = QuantizeBlock(x + b * kBlock, q);
    int32_t block_sum = 0;
    for (int64_t j = 0; j < kBlock; j += 4) {
      const int32_t s = q[j] + q[j + 1] + q[j + 2] + q[j + 3];
      quad_corr[(b * kBlock + j) / 4] = -offset * s;
      block_sum += s;
    }
    block_corr[b] = -offset * block_sum;
  }
}

void GroupRow(const int8_t* qs, const float* scales, int64_t blocks,
              int32_t offset, int8_t* group_qs, int32_t* group_corr,
              float* group_scales) {
  for (int64_t g = 0; g < blocks / 4; ++g) {
    int8_t* lo = group_qs + g * 128;
    for (int64_t k = 0; k < 4; ++k) {
      const int8_t* q = qs + (4 * g + k) * kBlock;
      std::memcpy(lo + 16 * k, q, 16);
      std::memcpy(lo + 64 + 16 * k, q + 16, 16);
      for (int64_t j = 0; j < 4; ++j) {
        int32_t sum = 0;
        for (int64_t t = 0; t < 4; ++t) sum += q[4 * j + t] + q[16 + 4 * j + t];
        group_corr[g * 16 + 4 * k + j] = -offset * sum;
        group_scales[g * 16 + 4 * k + j] = scales[4 * g + k];
      }
    }
  }
}

void QuantizedActivations::Quantize(const float* x, int64_t n, int64_t cols,
                                    int64_t x_stride, int32_t offset,
                                    bool groups, ThreadPool* pool) {
  const int64_t blocks = cols / kBlock;
  const int64_t ng = groups ? blocks / 4 : 0;
  auto round = [](int64_t bytes) { return (bytes + 63) & ~int64_t{63}; };
  // Layout: qs | scales | block_corr | quad_corr | group_qs | group_corr |
  // group_scales, each 64-byte aligned.
  const int64_t qs_bytes = round(n * cols);
  const int64_t block_bytes = round(n * blocks * 4);
  const int64_t quad_bytes = round(n * cols);
  const int64_t group_bytes = round(n * ng * 128);
  const int64_t lane_bytes = round(n * ng * 64);
  uint8_t* base = storage_.Reserve(qs_bytes + 2 * block_bytes + quad_bytes +
                                   group_bytes + 2 * lane_bytes);
  auto* qs = reinterpret_cast<int8_t*>(base);
  auto* scales = reinterpret_cast<float*>(base += qs_bytes);
  auto* block_corr = reinterpret_cast<int32_t*>(base += block_bytes);
  auto* quad_corr = reinterpret_cast<int32_t*>(base += block_bytes);
  auto* group_qs = reinterpret_cast<int8_t*>(base += quad_bytes);
  auto* group_corr = reinterpret_cast<int32_t*>(base += group_bytes);
  auto* group_scales = reinterpret_cast<float*>(base += lane_bytes);
  rows_ =
      QuantizedRows{n, cols, blocks, offset, qs, scales, block_corr, quad_corr};
  if (ng > 0) {
    rows_.groups = ng;
    rows_.group_qs = group_qs;
    rows_.group_corr = group_corr;
    rows_.group_scales = group_scales;
  }
  auto rows = [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      QuantizeRow(x + r * x_stride, cols, offset, qs + r * cols,
                  scales + r * blocks, block_corr + r * blocks,
                  quad_corr + r * (cols / 4));
      if (ng > 0) {
        GroupRow(qs + r * cols, scales + r * blocks, blocks, offset,
                 group_qs + r * ng * 128, group_corr + r * ng * 16,
                 group_scales + r * ng * 16);
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
