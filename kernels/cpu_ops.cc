#include "kernels/cpu_ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/simd.h"

namespace tessera::kernels {

void RmsNorm(const float* x, const float* weight, int64_t dim, float eps,
             float* out) {
  const double sum_squares = simd::SumSquares(x, dim);
  const float scale =
      1.0f / std::sqrt(static_cast<float>(sum_squares / dim) + eps);
  simd::ScaleMul(x, scale, weight, out, dim);
}

std::vector<double> RopeInverseFrequencies(int64_t rope_dim, float freq_base) {
  std::vector<double> inv_freq(static_cast<size_t>(rope_dim / 2));
  for (int64_t i = 0; i < rope_dim / 2; ++i) {
    inv_freq[i] = std::pow(double(freq_base), -2.0 * i / rope_dim);
  }
  return inv_freq;
}

void RopeAngles(const std::vector<double>& inv_freq, int64_t position,
                float* cos_sin) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  for (int64_t i = 0; i < half; ++i) {
    const double theta = position * inv_freq[i];
    cos_sin[i] = static_cast<float>(std::cos(theta));
    cos_sin[half + i] = static_cast<float>(std::sin(theta));
  }
}

void ApplyRope(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim,
               const float* cos_sin, bool neox) {
  const int64_t half = rope_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[i], s = cos_sin[half + i];
      const int64_t a = neox ? i : 2 * i;
      const int64_t b = neox ? i + half : 2 * i + 1;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

void AttendGroup(const float* q, int64_t group, int64_t head_dim,
                 const KvLayerView& kv, int64_t kv_offset, int64_t length,
                 float* scores, float* out) {
  constexpr int64_t kPage = KvCache::kPageTokens;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t element_bytes = kv.element_bytes();
  const int64_t pages = (length + kPage - 1) / kPage;
  for (int64_t p = 0; p < pages; ++p) {
    const int64_t n = std::min(kPage, length - p * kPage);
    const uint8_t* keys = kv.KeyBlock(p) + kv_offset * kPage * element_bytes;
    if (kv.f16) {
      simd::DotTransposedF16(q, group, head_dim,
                             reinterpret_cast<const uint16_t*>(keys), kPage, n,
                             scale, scores + p * kPage, length);
    } else {
      simd::DotTransposed(q, group, head_dim,
                          reinterpret_cast<const float*>(keys), kPage, n, scale,
                          scores + p * kPage, length);
    }
  }
  for (int64_t g = 0; g < group; ++g) {
    float* s = scores + g * length;
    const float total = simd::ExpShiftedSum(s, simd::Max(s, length), length);
    simd::Scale(s, 1.0f / total, length);
  }
  std::fill(out, out + group * head_dim, 0.0f);
  for (int64_t p = 0; p < pages; ++p) {
    const int64_t n = std::min(kPage, length - p * kPage);
    const uint8_t* values = kv.ValueBlock(p) + kv_offset * element_bytes;
    if (kv.f16) {
      simd::WeightedSumF16(scores + p * kPage, group, length, n,
                           reinterpret_cast<const uint16_t*>(values), kv.kv_dim,
                           head_dim, out);
    } else {
      simd::WeightedSum(scores + p * kPage, group, length, n,
                        reinterpret_cast<const float*>(values), kv.kv_dim,
                        head_dim, out);
    }
  }
}

}  // namespace tessera::kernels
