// rope.cl: post-processing of the fused Q|K|V projection for one session's
// rows: adds the optional Q/K/V bias (qwen2), rotates Q and K (RoPE) and
// appends K and V to the session's KV cache.
//
// Layouts:
//   qkv:     row r at qkv + r * qkv_stride: [q: n_heads*head_dim |
//            k: n_kv_heads*head_dim | v: n_kv_heads*head_dim]
//   rope:    [position][rope_dim/2] (cos, sin) pairs, computed on the host in
//            double precision: theta_i = pos * base^(-2i/rope_dim)
//   k_cache, v_cache: [capacity][n_kv_heads*head_dim] floats, by position
// Rotation pairs: "normal" (llama): (2i, 2i+1) for 2i < rope_dim;
// "neox" (qwen2): (i, i + rope_dim/2) for i < rope_dim/2. Dimensions past
// rope_dim are copied unrotated.
// Trade-offs: one work-item per pair of elements, so each element's bias is
// added exactly once and no synchronisation is needed; the angle table avoids
// sin/cos on the device, whose precision varies between drivers.
// Global size: (head_dim/2, n_heads + 2*n_kv_heads, n_rows).

__kernel void rope_store(__global float* qkv, int qkv_stride, int row_begin,
                         int pos0, int n_heads, int n_kv_heads, int head_dim,
                         int rope_dim, int neox, __global const float* rope,
                         __global const float* bias, int has_bias,
                         __global float* k_cache, __global float* v_cache) {
  const int i = get_global_id(0);
  const int slot = get_global_id(1);
  const int r = get_global_id(2);
  if (i >= head_dim / 2) return;  // global size rounded up to the group
  const int pos = pos0 + r;
  const int half_rope = rope_dim / 2;
  int e0, e1;
  bool rotate;
  if (neox) {
    rotate = i < half_rope;
    e0 = rotate ? i : rope_dim + 2 * (i - half_rope);
    e1 = rotate ? i + half_rope : e0 + 1;
  } else {
    e0 = 2 * i;
    e1 = e0 + 1;
    rotate = e0 < rope_dim;
  }
  const int kv_dim = n_kv_heads * head_dim;
  const int is_q = slot < n_heads;
  const int is_k = !is_q && slot < n_heads + n_kv_heads;
  // Column of this head's first element within the qkv row.
  const int col = slot * head_dim;
  __global float* row = qkv + (size_t)(row_begin + r) * qkv_stride + col;
  float a = row[e0];
  float b = row[e1];
  if (has_bias) {
    a += bias[col + e0];
    b += bias[col + e1];
  }
  if (rotate && (is_q || is_k)) {
    const float2 cs = vload2((size_t)pos * half_rope + i, rope);
    const float ra = a * cs.x - b * cs.y;
    const float rb = a * cs.y + b * cs.x;
    a = ra;
    b = rb;
  }
  row[e0] = a;
  row[e1] = b;
  if (!is_q) {
    __global float* cache = is_k ? k_cache : v_cache;
    const int head = is_k ? slot - n_heads : slot - n_heads - n_kv_heads;
    __global float* dst = cache + (size_t)pos * kv_dim + head * head_dim;
    dst[e0] = a;
    dst[e1] = b;
  }
}
