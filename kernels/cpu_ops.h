// The float ops of a transformer layer on the CPU: RMSNorm, rotary position
// embedding, grouped-query attention over a KvCache, SwiGLU. They mirror
// model/reference_ops.h (the reference) and use the vector helpers of
// simd.h. All functions are pure over caller memory and thread-safe.
#ifndef TESSERA_KERNELS_CPU_OPS_H_
#define TESSERA_KERNELS_CPU_OPS_H_

#include <cstdint>
#include <vector>

#include "kernels/cpu_kv_cache.h"

namespace tessera::kernels {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i] for one row of `dim`.
void RmsNorm(const float* x, const float* weight, int64_t dim, float eps,
             float* out);

// Rotary embedding angles: inv_freq[i] = base^(-2i / rope_dim) for
// i < rope_dim / 2 (computed in double, as the reference does).
std::vector<double> RopeInverseFrequencies(int64_t rope_dim, float freq_base);

// cos_sin[0, half) = cos(position * inv_freq[i]), cos_sin[half, 2 half) =
// the sines, half = inv_freq.size().
void RopeAngles(const std::vector<double>& inv_freq, int64_t position,
                float* cos_sin);

// Rotates the first rope_dim dims of each of `heads` head vectors in `x`
// (head_dim apart): pairs (2i, 2i+1), or (i, i + rope_dim/2) when `neox`.
void ApplyRope(float* x, int64_t heads, int64_t head_dim, int64_t rope_dim,
               const float* cos_sin, bool neox);

// Causal attention of `group` query heads (q, contiguous, head_dim each)
// sharing one KV head (at kv_offset within each cached row) over positions
// [0, length): out_g = softmax(q_g . k_t / sqrt(head_dim)) . v_t.
// `scores` holds group * length floats of scratch.
void AttendGroup(const float* q, int64_t group, int64_t head_dim,
                 const KvLayerView& kv, int64_t kv_offset, int64_t length,
                 float* scores, float* out);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_H_
