// matvec_q8_0.cl: y = W x for Q8_0 weights (decode and prefill), and the
// embedding lookup from a Q8_0 table.
//
// Device layout (split at upload from GGUF's interleaved 34-byte blocks):
//   wq: rows * cols int8 quants, row-major    (block b of row r at r*cols+32b)
//   wd: rows * cols/32 fp16 scales, row-major   (value = wd[block] * q)
// Trade-offs:
//   * Struct-of-arrays instead of GGUF blocks: every block's quants are 32-byte
//     aligned, so they load as two aligned 16-byte vectors on any device; the
//     price is a conversion at upload (weights cannot stay in the mmap).
//   * Dequantise to float and multiply with float activations: no activation
//     quantisation error and no dependence on int8 dot-product extensions
//     (absent from OpenCL 1.2); decode is bound by weight bandwidth anyway.
//   * Lane l of a row handles groups of 4 blocks l, l+lanes, ...: adjacent
//     lanes read adjacent 128-byte groups (close to coalesced on GPUs); with
//     one lane (CPU devices) a work-item streams its row sequentially and no
//     barrier is needed.
//   * matmul_q8_0 handles TOKEN_TILE (4) tokens per work-item in named
//     accumulators, so each dequantised block is reused 4 times (prefill);
//     matvec_q8_0 is the one-token version used for decode.
//   * Results are stored, never accumulated into y: a read-modify-write of y
//     made the CPU (PoCL) code 2-4x slower; residual additions are fused into
//     add_rmsnorm (rmsnorm.cl) or done by add_rows (elementwise.cl).
//   * The block scale multiplies the block's 16-wide partial sum, not each
//     weight: one multiply per block instead of two. Scales are loaded four
//     at a time (vload_half4): PoCL converts a scalar half in software (as
//     much work as the block's arithmetic) but a vector of halves with one
//     hardware instruction. Hence the groups of 4 blocks (128 values); rows
//     whose block count is not a multiple of 4 finish with single blocks.

// Quants 16i..16i+15 of a row as floats. Loaded as an int4 and reinterpreted
// (as_char16): CPU compilers turned vload16 of chars at a computed offset
// into eight 2-byte inserts, which halved the kernel's speed.
ALWAYS_INLINE float16 q8_0_quants(__global const char* qrow, int i) {
  return convert_float16(as_char16(vload4(i, (__global const int*)qrow)));
}

// Partial dot of one block (32 weights) with 32 activations at xb.
ALWAYS_INLINE float16 q8_0_block(__global const char* qrow, int b,
                                 __global const float* xb) {
  return q8_0_quants(qrow, 2 * b) * vload16(2 * b, xb) +
         q8_0_quants(qrow, 2 * b + 1) * vload16(2 * b + 1, xb);
}

// Blocks 4g..4g+3 scaled by their four scales `d`.
ALWAYS_INLINE float16 q8_0_group(__global const char* qrow, int g, float4 d,
                                 __global const float* xb) {
  const int b = 4 * g;
  return q8_0_block(qrow, b, xb) * d.x + q8_0_block(qrow, b + 1, xb) * d.y +
         q8_0_block(qrow, b + 2, xb) * d.z + q8_0_block(qrow, b + 3, xb) * d.w;
}

__kernel void matvec_q8_0(__global const char* wq, __global const half* wd,
                          int cols, int rows, __global const float* x,
                          int x_stride, __global float* y, int y_stride,
                          int y_offset, int n_tokens, __local float* scratch) {
  const int row = get_global_id(1);
  float16 acc = (float16)(0.0f);
  if (row < rows) {
    const int nb = cols / 32;
    __global const char* qrow = wq + (size_t)row * cols;
    __global const half* drow = wd + (size_t)row * nb;
    for (int g = LANE_ID; g < nb / 4; g += LANE_COUNT) {
      PREFETCH_WEIGHTS_AHEAD(qrow + 128 * g);
      acc += q8_0_group(qrow, g, vload_half4(g, drow), x);
    }
    for (int b = nb / 4 * 4 + LANE_ID; b < nb; b += LANE_COUNT) {
      acc += q8_0_block(qrow, b, x) * vload_half(b, drow);
    }
  }
  const float sum = reduce_sum_lanes(scratch, hsum16(acc));
  if (LANE_ID == 0 && row < rows) y[y_offset + row] = sum;
}

// Adds block b of the row (scale d) times each token's activations.
#define Q8_0_TILE_BLOCK(b, d)                                          \
  do {                                                                 \
    const float16 q0 = q8_0_quants(qrow, 2 * (b)) * (d);               \
    const float16 q1 = q8_0_quants(qrow, 2 * (b) + 1) * (d);           \
    acc0 += q0 * vload16(2 * (b), x0) + q1 * vload16(2 * (b) + 1, x0); \
    acc1 += q0 * vload16(2 * (b), x1) + q1 * vload16(2 * (b) + 1, x1); \
    acc2 += q0 * vload16(2 * (b), x2) + q1 * vload16(2 * (b) + 1, x2); \
    acc3 += q0 * vload16(2 * (b), x3) + q1 * vload16(2 * (b) + 1, x3); \
  } while (0)

__kernel void matmul_q8_0(__global const char* wq, __global const half* wd,
                          int cols, int rows, __global const float* x,
                          int x_stride, __global float* y, int y_stride,
                          int y_offset, int n_tokens, __local float* scratch) {
  const int row = get_global_id(1);
  const int t0 = get_global_id(2) * TOKEN_TILE;
  TILE_INPUTS(x, x_stride, t0, n_tokens);
  float16 acc0 = (float16)(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  if (row < rows) {
    const int nb = cols / 32;
    __global const char* qrow = wq + (size_t)row * cols;
    __global const half* drow = wd + (size_t)row * nb;
    for (int g = LANE_ID; g < nb / 4; g += LANE_COUNT) {
      const float4 d = vload_half4(g, drow);
      Q8_0_TILE_BLOCK(4 * g, d.x);
      Q8_0_TILE_BLOCK(4 * g + 1, d.y);
      Q8_0_TILE_BLOCK(4 * g + 2, d.z);
      Q8_0_TILE_BLOCK(4 * g + 3, d.w);
    }
    for (int b = nb / 4 * 4 + LANE_ID; b < nb; b += LANE_COUNT) {
      Q8_0_TILE_BLOCK(b, vload_half(b, drow));
    }
  }
  store_tile(scratch, hsum16(acc0), hsum16(acc1), hsum16(acc2), hsum16(acc3), y,
             y_stride, y_offset + row, row < rows, t0, n_tokens);
}

// out[r] = row (tokens[r] - row_begin) of the table, when that row lies in
// [0, row_count) (the table may be split into several buffers); other rows
// are left alone. Global size: (cols, n_rows).
__kernel void get_rows_q8_0(__global const char* wq, __global const half* wd,
                            int cols, int row_begin, int row_count,
                            __global const int* tokens, __global float* out) {
  const int c = get_global_id(0);
  const int r = get_global_id(1);
  const int local_row = tokens[r] - row_begin;
  if (c >= cols || local_row < 0 || local_row >= row_count) return;
  const size_t i = (size_t)local_row * cols + c;
  out[(size_t)r * cols + c] = vload_half(i / 32, wd) * (float)wq[i];
}
