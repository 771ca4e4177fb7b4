// matvec_q4_0.cl: y = W x for Q4_0 weights (decode and prefill), and the
// embedding lookup from a Q4_0 table.
//
// Device layout (split at upload from GGUF's interleaved 18-byte blocks):
//   wq: rows * cols/2 bytes, 16 per block, exactly GGUF's qs[16]: element
//       j < 16 of a block is the low nibble of qs[j], element j+16 the high one
//   wd: rows * cols/32 fp16 scales               (value = wd[block] * (q - 8))
// Trade-offs:
//   * Struct-of-arrays: each block's 16 quant bytes are one aligned 16-byte
//     vector load; the nibble order of GGUF is kept, so the low nibbles pair
//     with x[0..15] and the high ones with x[16..31] without any shuffle.
//   * Float activations (see matvec_q8_0.cl): exact against dequantised
//     weights, no int8 dot-product extension needed. The exception is
//     decode on x86-64 CPU devices with AVX-512BW (Q4_0_INT8_DECODE below),
//     which quantises x to int8 per block as the CPU backend does.
//   * Lanes, token tiles, per-block scaling and scales loaded four at a time
//     as in matvec_q8_0.cl.
//   * Unpacking nibbles costs as much arithmetic per block as Q8_0 for half
//     the bytes, so on CPU devices Q4_0 decode is compute-bound. The decode
//     kernel therefore takes the -8 offset out of the inner loop:
//       sum_j d (q_j - 8) x_j = d sum_j q_j x_j - 8 d sum_j x_j,
//     where sum_j x_j (the block sums of x) is computed once per work-group
//     into local memory and the second term costs one multiply-add per
//     block, four blocks at a time. It also splits the nibbles after widening
//     the bytes to 32 bits (one widening per block instead of two). On PoCL
//     (2 cores, AVX-512), with 64-row work-groups (see ChooseGeometry),
//     decode matvecs became 1.3-1.7x faster. The matmul kernel (prefill)
//     reuses each dequantised block for TOKEN_TILE tokens and keeps the
//     plain form.
//   * The float decode kernel is still bound by its arithmetic on PoCL
//     (about 38 vector operations per 4 blocks); Q4_0_INT8_DECODE replaces
//     it where clang's x86 builtins allow.

// The 16 quant bytes of block b (loaded as a uint4, see q8_0_quants).
ALWAYS_INLINE uchar16 q4_0_bytes(__global const uchar* qrow, int b) {
  return as_uchar16(vload4(b, (__global const uint*)qrow));
}

#if defined(SINGLE_LANE) && defined(__clang__) && defined(__AVX512BW__) && \
    !defined(FLOAT_ACTIVATIONS)
#define Q4_0_INT8_DECODE 1
#endif

#ifdef Q4_0_INT8_DECODE
// Decode on x86-64 CPU devices with AVX-512BW (PoCL): the float kernel
// below spends about 38 vector operations per 4 blocks (widening, two
// conversions and two multiply-adds per block) and is bound by them, not by
// memory. Here x is quantised to int8 once per work-group, per 32-element
// block exactly as the CPU backend's QuantizeRow does (d_x = max|x| / 127,
// x * (1 / d_x) rounded to nearest even). That costs about as much as 25
// rows of 2048 columns, so the host gives this kernel a few large groups
// (OpenClOps::RowsPerGroup). 4 blocks of a row are then multiplied with
// pmaddubsw (unsigned nibble times signed x, pairs summed to int16) and
// pmaddwd (to int32): about 12 operations per 4 blocks. x's local copy is laid out per group of 4 blocks, Q4_0_GROUP_BYTES:
//   [  0, 64) x_q of elements 0..15 of blocks 0..3 (pairs with low nibbles)
//   [ 64,128) x_q of elements 16..31 (pairs with high nibbles)
//   [128,192) int32 per lane: -8 * sum x_q of the lane's block on its
//             first lane (of 4), 0 on the others: the -8 offset
//   [192,256) float per lane: d_x of the lane's block
// A row's blocks past its last full group go through the tail loop one at
// a time; the partial group's unused slots hold zero x.
// Clang's x86 builtins are used because OpenCL C 1.2 has no 8-bit dot
// product; other CPU devices keep the float kernel.
#define Q4_0_GROUP_BYTES 256

// 64-byte vectors for the builtins; aligned(1) makes every load of one an
// unaligned load (weight rows are only 16-byte aligned).
typedef char q4_0_v64c __attribute__((vector_size(64), aligned(1)));
typedef short q4_0_v32s __attribute__((vector_size(64), aligned(1)));
typedef int q4_0_v16i __attribute__((vector_size(64), aligned(1)));

ALWAYS_INLINE int q4_0_hsum_int16(int16 v) {
  const int8 a = v.lo + v.hi;
  const int4 b = a.lo + a.hi;
  const int2 c = b.lo + b.hi;
  return c.x + c.y;
}

// Quantises x (nb blocks) into the group layout at xl. Reached by every
// work-item of the group (has a barrier).
ALWAYS_INLINE void q4_0_quantize_x(__global const float* x, int nb,
                                   __local uchar* xl) {
  const int item = get_local_id(1) * get_local_size(0) + get_local_id(0);
  const int items = get_local_size(0) * get_local_size(1);
  const int padded = (nb + 3) / 4 * 4;
  for (int b = item; b < padded; b += items) {
    float16 lo = (float16)(0.0f), hi = lo;
    if (b < nb) {
      lo = vload16(2 * b, x);
      hi = vload16(2 * b + 1, x);
    }
    const float16 a = fmax(fabs(lo), fabs(hi));
    const float8 m8 = fmax(a.lo, a.hi);
    const float4 m4 = fmax(m8.lo, m8.hi);
    const float2 m2 = fmax(m4.lo, m4.hi);
    const float amax = fmax(m2.x, m2.y);
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    const char16 ql = convert_char16_rte(lo * inv);
    const char16 qh = convert_char16_rte(hi * inv);
    const int sum = q4_0_hsum_int16(convert_int16(ql) + convert_int16(qh));
    __local uchar* group = xl + (b / 4) * Q4_0_GROUP_BYTES;
    const int j = b % 4;
    vstore16(ql, j, (__local char*)group);
    vstore16(qh, j, (__local char*)(group + 64));
    vstore4((int4)(-8 * sum, 0, 0, 0), j, (__local int*)(group + 128));
    vstore4((float4)(d), j, (__local float*)(group + 192));
  }
  barrier(CLK_LOCAL_MEM_FENCE);
}

// Dot of block j (< 4) of a group, when read alone (a row's last blocks).
ALWAYS_INLINE float q4_0_int8_block(__global const uchar* qrow, int b,
                                    __local const uchar* group, int j) {
  const int16 v = convert_int16(q4_0_bytes(qrow, b));
  const int16 lo = v & (int16)(0x0F);
  const int16 hi = v >> (int16)(4);
  const int16 xlo = convert_int16(vload16(j, (__local const char*)group));
  const int16 xhi =
      convert_int16(vload16(j, (__local const char*)(group + 64)));
  const int dot = q4_0_hsum_int16(lo * xlo + hi * xhi) +
                  ((__local const int*)(group + 128))[4 * j];
  return (float)dot * ((__local const float*)(group + 192))[4 * j];
}

// `scratch` holds lanes * rows_per_group floats for the lane reduction,
// then Q4_0_GROUP_BYTES per 4 blocks of x (16 floats per block).
__kernel void matvec_q4_0(__global const uchar* wq, __global const half* wd,
                          int cols, int rows, __global const float* x,
                          int x_stride, __global float* y, int y_stride,
                          int y_offset, int n_tokens, __local float* scratch) {
  const int nb = cols / 32;
  __local uchar* xl =
      (__local uchar*)(scratch + get_local_size(0) * get_local_size(1));
  q4_0_quantize_x(x, nb, xl);
  const int row = get_global_id(1);
  if (row >= rows) return;
  __global const uchar* qrow = wq + (size_t)row * (cols / 2);
  __global const half* drow = wd + (size_t)row * nb;
  const q4_0_v32s ones = (q4_0_v32s)((int16)(0x00010001));
  const q4_0_v64c low_nibbles = (q4_0_v64c)((int16)(0x0F0F0F0F));
  float16 acc = (float16)(0.0f);
  for (int g = 0; g < nb / 4; ++g) {
    PREFETCH_WEIGHTS_AHEAD(qrow + 64 * g);
    const q4_0_v64c q = *(__global const q4_0_v64c*)(qrow + 64 * g);
    const q4_0_v64c lo = q & low_nibbles;
    const q4_0_v64c hi = (q4_0_v64c)((q4_0_v32s)q >> 4) & low_nibbles;
    __local const uchar* group = xl + g * Q4_0_GROUP_BYTES;
    const q4_0_v32s pairs =
        __builtin_ia32_pmaddubsw512(lo, *(__local const q4_0_v64c*)group) +
        __builtin_ia32_pmaddubsw512(hi,
                                    *(__local const q4_0_v64c*)(group + 64));
    const q4_0_v16i dots = __builtin_ia32_pmaddwd512(pairs, ones) +
                           *(__local const q4_0_v16i*)(group + 128);
    const float4 d = vload_half4(g, drow);
    const float16 dw = (float16)(d.xxxx, d.yyyy, d.zzzz, d.wwww);
    acc += convert_float16(as_int16(dots)) *
           (dw * vload16(0, (__local const float*)(group + 192)));
  }
  float tail = 0.0f;
  for (int b = nb / 4 * 4; b < nb; ++b) {
    tail += vload_half(b, drow) *
            q4_0_int8_block(qrow, b, xl + (b / 4) * Q4_0_GROUP_BYTES, b % 4);
  }
  y[y_offset + row] = hsum16(acc) + tail;
}

#else  // !Q4_0_INT8_DECODE

// Dot of block b's unsigned nibbles (0..15, without the -8 offset) with the
// 32 activations at xb.
ALWAYS_INLINE float16 q4_0_block_unsigned(__global const uchar* qrow, int b,
                                          __global const float* xb) {
  const uint16 v = convert_uint16(q4_0_bytes(qrow, b));
  // Values below 16 convert exactly through the signed conversion, which
  // is one instruction on every CPU (unsigned conversion is not).
  const float16 lo = convert_float16(as_int16(v & (uint16)(0x0F)));
  const float16 hi = convert_float16(as_int16(v >> (uint16)(4)));
  return lo * vload16(2 * b, xb) + hi * vload16(2 * b + 1, xb);
}

// sums[b] = x[32b] + ... + x[32b + 31] for the nb blocks of x, shared by the
// work-group. Reached by every work-item of the group (has a barrier).
ALWAYS_INLINE void q4_0_block_sums(__global const float* x, int nb,
                                   __local float* sums) {
  const int item = get_local_id(1) * get_local_size(0) + get_local_id(0);
  const int items = get_local_size(0) * get_local_size(1);
  for (int b = item; b < nb; b += items) {
    sums[b] = hsum16(vload16(2 * b, x) + vload16(2 * b + 1, x));
  }
  barrier(CLK_LOCAL_MEM_FENCE);
}

// `scratch` holds lanes * rows_per_group floats for the lane reduction,
// then cols / 32 floats for the block sums of x.
__kernel void matvec_q4_0(__global const uchar* wq, __global const half* wd,
                          int cols, int rows, __global const float* x,
                          int x_stride, __global float* y, int y_stride,
                          int y_offset, int n_tokens, __local float* scratch) {
  const int nb = cols / 32;
  __local float* sums = scratch + get_local_size(0) * get_local_size(1);
  q4_0_block_sums(x, nb, sums);
  const int row = get_global_id(1);
  float16 acc = (float16)(0.0f);
  float4 offset = (float4)(0.0f);  // sum over blocks of d * block sum
  if (row < rows) {
    __global const uchar* qrow = wq + (size_t)row * (cols / 2);
    __global const half* drow = wd + (size_t)row * nb;
    for (int g = LANE_ID; g < nb / 4; g += LANE_COUNT) {
      PREFETCH_WEIGHTS_AHEAD(qrow + 64 * g);
      const float4 d = vload_half4(g, drow);
      const int b = 4 * g;
      acc += q4_0_block_unsigned(qrow, b, x) * d.x +
             q4_0_block_unsigned(qrow, b + 1, x) * d.y +
             q4_0_block_unsigned(qrow, b + 2, x) * d.z +
             q4_0_block_unsigned(qrow, b + 3, x) * d.w;
      offset += d * vload4(g, sums);
    }
    for (int b = nb / 4 * 4 + LANE_ID; b < nb; b += LANE_COUNT) {
      const float d = vload_half(b, drow);
      acc += q4_0_block_unsigned(qrow, b, x) * d;
      offset.x += d * sums[b];
    }
  }
  const float partial =
      hsum16(acc) - 8.0f * ((offset.x + offset.y) + (offset.z + offset.w));
  const float sum = reduce_sum_lanes(scratch, partial);
  if (LANE_ID == 0 && row < rows) y[y_offset + row] = sum;
}

#endif  // Q4_0_INT8_DECODE

// Adds block b of the row (scale d) times each token's activations.
#define Q4_0_TILE_BLOCK(b, d)                                                \
  do {                                                                       \
    const uchar16 qs = q4_0_bytes(qrow, (b));                                \
    const float16 lo = (convert_float16(qs & (uchar16)(0x0F)) - 8.0f) * (d); \
    const float16 hi = (convert_float16(qs >> (uchar16)(4)) - 8.0f) * (d);   \
    acc0 += lo * vload16(2 * (b), x0) + hi * vload16(2 * (b) + 1, x0);       \
    acc1 += lo * vload16(2 * (b), x1) + hi * vload16(2 * (b) + 1, x1);       \
    acc2 += lo * vload16(2 * (b), x2) + hi * vload16(2 * (b) + 1, x2);       \
    acc3 += lo * vload16(2 * (b), x3) + hi * vload16(2 * (b) + 1, x3);       \
  } while (0)

__kernel void matmul_q4_0(__global const uchar* wq, __global const half* wd,
                          int cols, int rows, __global const float* x,
                          int x_stride, __global float* y, int y_stride,
                          int y_offset, int n_tokens, __local float* scratch) {
  const int row = get_global_id(1);
  const int t0 = get_global_id(2) * TOKEN_TILE;
  TILE_INPUTS(x, x_stride, t0, n_tokens);
  float16 acc0 = (float16)(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  if (row < rows) {
    const int nb = cols / 32;
    __global const uchar* qrow = wq + (size_t)row * (cols / 2);
    __global const half* drow = wd + (size_t)row * nb;
    for (int g = LANE_ID; g < nb / 4; g += LANE_COUNT) {
      const float4 d = vload_half4(g, drow);
      Q4_0_TILE_BLOCK(4 * g, d.x);
      Q4_0_TILE_BLOCK(4 * g + 1, d.y);
      Q4_0_TILE_BLOCK(4 * g + 2, d.z);
      Q4_0_TILE_BLOCK(4 * g + 3, d.w);
    }
    for (int b = nb / 4 * 4 + LANE_ID; b < nb; b += LANE_COUNT) {
      Q4_0_TILE_BLOCK(b, vload_half(b, drow));
    }
  }
  store_tile(scratch, hsum16(acc0), hsum16(acc1), hsum16(acc2), hsum16(acc3), y,
             y_stride, y_offset + row, row < rows, t0, n_tokens);
}

// Embedding rows, as get_rows_q8_0. Global size: (cols, n_rows).
__kernel void get_rows_q4_0(__global const uchar* wq, __global const half* wd,
                            int cols, int row_begin, int row_count,
                            __global const int* tokens, __global float* out) {
  const int c = get_global_id(0);
  const int r = get_global_id(1);
  const int local_row = tokens[r] - row_begin;
  if (c >= cols || local_row < 0 || local_row >= row_count) return;
  const size_t block = ((size_t)local_row * cols + c) / 32;
  const int j = c % 32;
  const uchar byte = wq[block * 16 + (j % 16)];
  const int q = j < 16 ? (byte & 0x0F) : (byte >> 4);
  out[(size_t)r * cols + c] = vload_half(block, wd) * (float)(q - 8);
}
