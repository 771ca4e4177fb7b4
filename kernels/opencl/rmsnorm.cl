// rmsnorm.cl: out = x * rsqrt(mean(x^2) + eps) * w, one row per work-group;
// add_rmsnorm first adds a residual branch into x (x += delta).
//
// Trade-offs: the row is read twice (sum of squares, then scale) instead of
// being staged in local memory: rows are a few KB and stay in cache, and the
// kernel needs no local memory proportional to the model width. Lanes stride
// over the row and combine the sum with reduce_sum_lanes (common.cl).
// Global size: (lanes, n_rows); local size: (lanes, 1).

ALWAYS_INLINE void rmsnorm_row(__global const float* x, __global const float* w,
                               __global float* out, int dim, float eps,
                               __local float* scratch) {
  float sum_sq = 0.0f;
  for (int i = LANE_ID; i < dim; i += LANE_COUNT) sum_sq += x[i] * x[i];
  sum_sq = reduce_sum_lanes(scratch, sum_sq);
  const float scale = 1.0f / sqrt(sum_sq / (float)dim + eps);
  for (int i = LANE_ID; i < dim; i += LANE_COUNT) {
    out[i] = (x[i] * scale) * w[i];
  }
}

// Row r of `out` is the normalised row r of `x`.
__kernel void rmsnorm(__global const float* x, __global const float* w,
                      __global float* out, int dim, float eps,
                      __local float* scratch) {
  const size_t r = get_global_id(1);
  rmsnorm_row(x + r * dim, w, out + r * dim, dim, eps, scratch);
}

// x[r] += delta[r], then out[r] = normalised x[r]: the residual connection
// after attention fused with the FFN's norm. Each lane reads back only the
// elements it wrote, so no barrier is needed between the two.
__kernel void add_rmsnorm(__global float* x, __global const float* delta,
                          __global const float* w, __global float* out, int dim,
                          float eps, __local float* scratch) {
  const size_t r = get_global_id(1);
  __global float* xr = x + r * dim;
  __global const float* dr = delta + r * dim;
  for (int i = LANE_ID; i < dim; i += LANE_COUNT) xr[i] += dr[i];
  rmsnorm_row(xr, w, out + r * dim, dim, eps, scratch);
}

// Row r of `out` is the normalised row rows[r] of `x` (the final norm of the
// rows whose logits are wanted).
__kernel void rmsnorm_gather(__global const float* x, __global const int* rows,
                             __global const float* w, __global float* out,
                             int dim, float eps, __local float* scratch) {
  const size_t r = get_global_id(1);
  rmsnorm_row(x + (size_t)rows[r] * dim, w, out + r * dim, dim, eps, scratch);
}
