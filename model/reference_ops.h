// The arithmetic of the reference forward pass, one plain loop per op, in F32
// with double accumulation where it matters. Readability over speed. All
// functions are pure and thread-safe.
#ifndef TESSERA_MODEL_REFERENCE_OPS_H_
#define TESSERA_MODEL_REFERENCE_OPS_H_

#include <cstdint>

namespace tessera::model::ref {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i], for i < n.
void RmsNorm(const float* x, const float* weight, int64_t n, float eps,
             float* out);

// y[o] = sum_i w[o * in + i] * x[i] (+ bias[o] when bias != nullptr).
void MatVec(const float* w, const float* bias, const float* x, int64_t in,
            int64_t out, float* y);

// Rotary position embedding of one head vector in place. `neox` rotates
// pairs (i, i + rope_dim/2) (qwen2); otherwise adjacent pairs (2i, 2i+1)
// (llama GGUF, whose Q/K rows are permuted for it). Dimensions at or above
// rope_dim are left unchanged.
void Rope(float* head, int64_t rope_dim, int64_t position, float freq_base,
          bool neox);

// Causal attention of one query head over `length` cached positions:
// out = softmax(q . k_t / sqrt(head_dim)) . v_t, where the keys/values of
// position t start at keys + t * stride.
void Attention(const float* q, const float* keys, const float* values,
               int64_t length, int64_t head_dim, int64_t stride, float* out);

// x[i] = silu(gate[i]) * up[i].
void SwiGlu(const float* gate, const float* up, int64_t n, float* x);

}  // namespace tessera::model::ref

#endif  // TESSERA_MODEL_REFERENCE_OPS_H_
