// attention.cl: causal multi-head attention of one session's rows over its
// KV cache, with grouped-query heads (query head h reads KV head
// h / (n_heads / n_kv_heads)).
//
// One work-group per (row, query head); its lanes split the cached positions
// 0..pos (scores and softmax), then the head's output dimensions.
// Layouts:
//   qkv:    rows as in rope.cl (rotated Q at column h*head_dim)
//   caches: [capacity][kv_dim] floats
//   scores: scratch, (row, head) at scores + (r*n_heads + h) * scores_stride,
//           scores_stride >= pos0 + n_rows
//   out:    row (row_begin + r), columns h*head_dim .. +head_dim
// Trade-offs:
//   * Scores go to a global scratch rather than local memory, so any context
//     length works with a fixed, small local footprint; each value is written
//     and read once by the same work-group (barrier with a global fence).
//   * Three passes (max, exp-sum, weighted V) instead of an online softmax:
//     no rescaling of a head_dim-wide accumulator per position, and the
//     softmax normalisation is applied once at the end.
//   * The V pass has two loop orders chosen by the (uniform) lane count: with
//     several lanes each lane owns output dimensions (coalesced reads across
//     lanes on GPUs); with one lane the cache is streamed row by row (CPUs).
// Global size: (lanes, n_heads, n_rows); local size: (lanes, 1, 1).

ALWAYS_INLINE float dot_head(__global const float* a, __global const float* b,
                             int n) {
  float4 acc = (float4)(0.0f);
  int d = 0;
  for (; d + 4 <= n; d += 4) acc += vload4(0, a + d) * vload4(0, b + d);
  float sum = acc.x + acc.y + acc.z + acc.w;
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

__kernel void attention(__global const float* qkv, int qkv_stride,
                        int row_begin, int pos0, __global const float* k_cache,
                        __global const float* v_cache, int n_heads,
                        int n_kv_heads, int head_dim, float scale,
                        __global float* scores, int scores_stride,
                        __global float* out, int out_stride,
                        __local float* scratch) {
  const int lane = LANE_ID;
  const int lanes = LANE_COUNT;
  const int h = get_global_id(1);
  const int r = get_global_id(2);
  const int n_ctx = pos0 + r + 1;
  const int kv_dim = n_kv_heads * head_dim;
  const int kv_col = (h / (n_heads / n_kv_heads)) * head_dim;
  __global const float* q =
      qkv + (size_t)(row_begin + r) * qkv_stride + h * head_dim;
  __global float* s = scores + ((size_t)r * n_heads + h) * scores_stride;

  float local_max = -INFINITY;
  for (int t = lane; t < n_ctx; t += lanes) {
    const float v =
        dot_head(q, k_cache + (size_t)t * kv_dim + kv_col, head_dim) * scale;
    s[t] = v;
    local_max = fmax(local_max, v);
  }
  const float max_score = reduce_max_lanes(scratch, local_max);
  float local_sum = 0.0f;
  for (int t = lane; t < n_ctx; t += lanes) {
    const float e = exp(s[t] - max_score);
    s[t] = e;
    local_sum += e;
  }
  const float inv_sum = 1.0f / reduce_sum_lanes(scratch, local_sum);
#ifndef SINGLE_LANE
  barrier(CLK_GLOBAL_MEM_FENCE);  // every lane's s[t] is visible below
#endif

  __global float* o = out + (size_t)(row_begin + r) * out_stride + h * head_dim;
  __global const float* v = v_cache + kv_col;
  if (lanes == 1) {
    for (int d = 0; d < head_dim; ++d) o[d] = 0.0f;
    for (int t = 0; t < n_ctx; ++t) {
      const float p = s[t] * inv_sum;
      __global const float* vt = v + (size_t)t * kv_dim;
      for (int d = 0; d < head_dim; ++d) o[d] += p * vt[d];
    }
  } else {
    for (int d = lane; d < head_dim; d += lanes) {
      float acc = 0.0f;
      for (int t = 0; t < n_ctx; ++t) acc += s[t] * v[(size_t)t * kv_dim + d];
      o[d] = acc * inv_sum;
    }
  }
}
