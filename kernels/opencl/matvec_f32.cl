// matvec_f32.cl: y = W x for F32 weights (decode and prefill), and the
// embedding lookup from an F32 table.
//
// Device layout: rows * cols float32 values, row-major (as GGUF).
// Trade-offs:
//   * The exact format: twice the bytes of F16, so about half its decode
//     speed on bandwidth-bound devices; used when exact results matter.
//   * Rows of any width (stories260K's ffn_down is 172 wide): 16-wide chunks
//     spread over the lanes, then a scalar tail, also spread over the lanes.
//   * Lanes, token tiles and stored (not accumulated) results as in
//     matvec_q8_0.cl.

__kernel void matvec_f32(__global const float* w, int cols, int rows,
                         __global const float* x, int x_stride,
                         __global float* y, int y_stride, int y_offset,
                         int n_tokens, __local float* scratch) {
  const int row = get_global_id(1);
  float16 acc = (float16)(0.0f);
  float tail = 0.0f;
  if (row < rows) {
    const int chunks = cols / 16;
    __global const float* wrow = w + (size_t)row * cols;
    for (int c = LANE_ID; c < chunks; c += LANE_COUNT) {
      PREFETCH_WEIGHTS_AHEAD(wrow + 16 * c);
      acc += vload16(c, wrow) * vload16(c, x);
    }
    for (int i = chunks * 16 + LANE_ID; i < cols; i += LANE_COUNT) {
      tail += wrow[i] * x[i];
    }
  }
  const float sum = reduce_sum_lanes(scratch, hsum16(acc) + tail);
  if (LANE_ID == 0 && row < rows) {
    y[y_offset + row] = sum;
  }
}

__kernel void matmul_f32(__global const float* w, int cols, int rows,
                         __global const float* x, int x_stride,
                         __global float* y, int y_stride, int y_offset,
                         int n_tokens, __local float* scratch) {
  const int row = get_global_id(1);
  const int t0 = get_global_id(2) * TOKEN_TILE;
  TILE_INPUTS(x, x_stride, t0, n_tokens);
  float16 acc0 = (float16)(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  float tail0 = 0.0f, tail1 = 0.0f, tail2 = 0.0f, tail3 = 0.0f;
  if (row < rows) {
    const int chunks = cols / 16;
    __global const float* wrow = w + (size_t)row * cols;
    for (int c = LANE_ID; c < chunks; c += LANE_COUNT) {
      const float16 wv = vload16(c, wrow);
      acc0 += wv * vload16(c, x0);
      acc1 += wv * vload16(c, x1);
      acc2 += wv * vload16(c, x2);
      acc3 += wv * vload16(c, x3);
    }
    for (int i = chunks * 16 + LANE_ID; i < cols; i += LANE_COUNT) {
      const float wv = wrow[i];
      tail0 += wv * x0[i];
      tail1 += wv * x1[i];
      tail2 += wv * x2[i];
      tail3 += wv * x3[i];
    }
  }
  store_tile(scratch, hsum16(acc0) + tail0, hsum16(acc1) + tail1,
             hsum16(acc2) + tail2, hsum16(acc3) + tail3, y, y_stride,
             y_offset + row, row < rows, t0, n_tokens);
}

// Embedding rows, as get_rows_q8_0. Global size: (cols, n_rows).
__kernel void get_rows_f32(__global const float* w, int cols, int row_begin,
                           int row_count, __global const int* tokens,
                           __global float* out) {
  const int c = get_global_id(0);
  const int r = get_global_id(1);
  const int local_row = tokens[r] - row_begin;
  if (c >= cols || local_row < 0 || local_row >= row_count) return;
  out[(size_t)r * cols + c] = w[(size_t)local_row * cols + c];
}
