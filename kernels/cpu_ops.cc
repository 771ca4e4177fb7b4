#include "kernels/cpu_ops.h"

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
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t element_bytes = kv.f16 ? 2 : 4;
  // Each cached key and value row is read once for the whole group.
  for (int64_t t = 0; t < length; ++t) {
    const uint8_t* k = kv.Key(t) + kv_offset * element_bytes;
    for (int64_t g = 0; g < group; ++g) {
      const float* qg = q + g * head_dim;
      const float dot =
          kv.f16 ? simd::DotF16(qg, reinterpret_cast<const uint16_t*>(k), head_dim)
                 : simd::Dot(qg, reinterpret_cast<const float*>(k), head_dim);
      scores[g * length + t] = dot * scale;
    }
  }
  for (int64_t g = 0; g < group; ++g) {
    float* s = scores + g * length;
    const float total = simd::ExpShiftedSum(s, simd::Max(s, length), length);
    simd::Scale(s, 1.0f / total, length);
    float* o = out + g * head_dim;
    for (int64_t d = 0; d < head_dim; ++d) o[d] = 0;
  }
  for (int64_t t = 0; t < length; ++t) {
    const uint8_t* v = kv.Value(t) + kv_offset * element_bytes;
    for (int64_t g = 0; g < group; ++g) {
      const float p = scores[g * length + t];
      float* o = out + g * head_dim;
      if (kv.f16) {
        simd::AxpyF16(p, reinterpret_cast<const uint16_t*>(v), o, head_dim);
      } else {
        simd::Axpy(p, reinterpret_cast<const float*>(v), o, head_dim);
      }
    }
  }
}

}  // namespace tessera::kernels
