#include "model/reference_ops.h"

#include <cmath>
#include <vector>

namespace tessera::model::ref {

void RmsNorm(const float* x, const float* weight, int64_t n, float eps,
             float* out) {
  double sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const float scale =
      1.0f / std::sqrt(static_cast<float>(sum_squares / n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void MatVec(const float* w, const float* bias, const float* x, int64_t in,
            int64_t out, float* y) {
  for (int64_t o = 0; o < out; ++o) {
    const float* row = w + o * in;
    double sum = 0;
    for (int64_t i = 0; i < in; ++i) sum += double(row[i]) * x[i];
    y[o] = static_cast<float>(sum) + (bias != nullptr ? bias[o] : 0.0f);
  }
}

void Rope(float* head, int64_t rope_dim, int64_t position, float freq_base,
          bool neox) {
  const int64_t half = rope_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double theta =
        position * std::pow(double(freq_base), -2.0 * i / rope_dim);
    const float c = static_cast<float>(std::cos(theta));
    const float s = static_cast<float>(std::sin(theta));
    const int64_t a = neox ? i : 2 * i;
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = head[a];
    const float x1 = head[b];
    head[a] = x0 * c - x1 * s;
    head[b] = x0 * s + x1 * c;
  }
}

void Attention(const float* q, const float* keys, const float* values,
               int64_t length, int64_t head_dim, int64_t stride, float* out) {
  std::vector<double> scores(static_cast<size_t>(length));
  const double scale = 1.0 / std::sqrt(double(head_dim));
  double max_score = -INFINITY;
  for (int64_t t = 0; t < length; ++t) {
    const float* k = keys + t * stride;
    double dot = 0;
    for (int64_t d = 0; d < head_dim; ++d) dot += double(q[d]) * k[d];
    scores[t] = dot * scale;
    max_score = std::max(max_score, scores[t]);
  }
  double total = 0;
  for (double& s : scores) {
    s = std::exp(s - max_score);
    total += s;
  }
  for (int64_t d = 0; d < head_dim; ++d) {
    double acc = 0;
    for (int64_t t = 0; t < length; ++t) acc += scores[t] * values[t * stride + d];
    out[d] = static_cast<float>(acc / total);
  }
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* x) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    x[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace tessera::model::ref
