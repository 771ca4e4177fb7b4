// elementwise.cl: the SiLU-gated FFN activation and the residual addition.
//
// gu holds the fused gate|up projection, row r = [gate: ffn | up: ffn];
// out row r = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
// Trade-offs: one work-item per element; the FFN's gate and up matrices are
// multiplied by one fused matvec launch and this tiny kernel, rather than a
// fused matvec-activation kernel per format, to keep the per-format kernels
// identical in shape.
// silu_mul global size: (ffn, n_rows) (rounded up to the group size).

__kernel void silu_mul(__global const float* gu, __global float* out, int ffn) {
  const int i = get_global_id(0);
  const size_t r = get_global_id(1);
  if (i >= ffn) return;
  const float g = gu[r * 2 * ffn + i];
  const float u = gu[r * 2 * ffn + ffn + i];
  out[r * ffn + i] = g / (1.0f + exp(-g)) * u;
}

// x[i] += delta[i] for i < n (the residual connection after the FFN).
// Global size: n rounded up to the group size.
__kernel void add_rows(__global float* x, __global const float* delta, int n) {
  const int i = get_global_id(0);
  if (i < n) x[i] += delta[i];
}
