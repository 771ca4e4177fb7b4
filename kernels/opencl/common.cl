// common.cl: helpers prepended to every program (not a kernel family).
//
// Conventions shared by all kernels:
//   * Activations are float32, row-major, one row per token.
//   * Work-group dimension 0 is "lanes": the work-items that cooperate on one
//     output row and combine their partial results with a tree reduction in
//     local memory. The host picks the lane count from device queries (the
//     kernel's preferred work-group size multiple on GPUs, 1 on CPU devices
//     where one work-item per row streams the row sequentially and needs no
//     barrier). Lane counts are powers of two.
//   * Dimension 1 indexes rows within the work-group; each row has its own
//     slice of the local scratch (lanes floats).
// On CPU devices the host builds every program with -DSINGLE_LANE: lanes are
// then always 1 and the reductions compile to nothing, so the kernels contain
// no barrier at all (CPU OpenCL compilers serialise work-items around
// barriers, which costs more than the reduction itself).
// Trade-off: a tree reduction costs log2(lanes) barriers per output value,
// negligible next to streaming a weight row; warp shuffles would be faster on
// NVIDIA but are not OpenCL 1.2.

// LANE_ID / LANE_COUNT: this work-item's lane and the lane count. Constants
// under SINGLE_LANE, so that loops striding over lanes are plain sequential
// loops the compiler vectorises well (a runtime stride of 1 costs CPU
// compilers a factor of several).
#ifdef SINGLE_LANE
#define LANE_ID 0
#define LANE_COUNT 1
#else
#define LANE_ID ((int)get_local_id(0))
#define LANE_COUNT ((int)get_local_size(0))
#endif

// PREFETCH_GLOBAL(p): asks for the cache line at p ahead of its use. Only on
// one-lane (CPU) devices compiled by clang (PoCL), where a work-item streams
// its weight row and the next work-items' rows follow it in memory: a
// prefetch a few KiB ahead keeps more reads in flight than the hardware
// prefetcher alone (a prefetch never faults, so one past the buffer's end is
// harmless). OpenCL's prefetch() is a no-op there; on GPUs, whose many
// resident work-groups hide latency instead, the macro is empty. On PoCL
// (2 cores, tinyllama shape, alternating runs) 4 KiB ahead raised decode
// from 45.6 to 48.9 tok/s at Q4_0, 26.6 to 30.3 at Q8_0 and 16.4 to 18.1 at
// F16; 8 KiB was no better than 4.
#if defined(__clang__) && defined(SINGLE_LANE) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define PREFETCH_GLOBAL(p) __builtin_prefetch((p), 0, 3)
#else
#define PREFETCH_GLOBAL(p) ((void)0)
#endif
// How far ahead the decode matvecs prefetch their weight stream, and the
// prefetch of the line that far past p (a weight pointer of any type).
#define MATVEC_PREFETCH_BYTES 4096
#define PREFETCH_WEIGHTS_AHEAD(p) \
  PREFETCH_GLOBAL((__global const uchar*)(p) + MATVEC_PREFETCH_BYTES)

// Helpers are forced inline where the compiler allows: PoCL left a 4-block
// helper out of line, and the call spilled the accumulator every iteration.
#if defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

#ifdef SINGLE_LANE

ALWAYS_INLINE float reduce_sum_lanes(__local float* scratch, float v) {
  return v;
}
ALWAYS_INLINE float reduce_max_lanes(__local float* scratch, float v) {
  return v;
}

#else

// Sum of `v` over the lanes of this work-item's row; every lane gets the sum.
// Must be reached by all work-items of the group (contains barriers unless
// the group has a single lane, which is uniform across the group).
ALWAYS_INLINE float reduce_sum_lanes(__local float* scratch, float v) {
  const uint lanes = get_local_size(0);
  if (lanes == 1) return v;
  const uint lane = get_local_id(0);
  __local float* slot = scratch + get_local_id(1) * lanes;
  slot[lane] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint stride = lanes / 2; stride > 0; stride >>= 1) {
    if (lane < stride) slot[lane] += slot[lane + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float result = slot[0];
  barrier(CLK_LOCAL_MEM_FENCE);  // the slot is reused by the next call
  return result;
}

// Maximum of `v` over the lanes of this work-item's row (as above).
ALWAYS_INLINE float reduce_max_lanes(__local float* scratch, float v) {
  const uint lanes = get_local_size(0);
  if (lanes == 1) return v;
  const uint lane = get_local_id(0);
  __local float* slot = scratch + get_local_id(1) * lanes;
  slot[lane] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint stride = lanes / 2; stride > 0; stride >>= 1) {
    if (lane < stride) slot[lane] = fmax(slot[lane], slot[lane + stride]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float result = slot[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return result;
}

#endif  // SINGLE_LANE

// Tokens per work-item in the matmul_* kernels. The kernels keep one
// accumulator per token in named variables (acc0..acc3): private arrays
// indexed in loops were kept in memory by CPU compilers, which cost 2x.
#ifndef TOKEN_TILE
#define TOKEN_TILE 4
#endif
#if TOKEN_TILE != 4
#error "the matmul kernels are written for TOKEN_TILE == 4"
#endif

// Declares x0..x3, the activation rows of tokens t0..t0+3; rows past the
// last token alias the last one (computed, never stored), so the inner
// loops need no per-token conditions.
#define TILE_INPUTS(x, x_stride, t0, n_tokens)                \
  __global const float* x0 =                                  \
      (x) + (size_t)min((t0), (n_tokens)-1) * (x_stride);     \
  __global const float* x1 =                                  \
      (x) + (size_t)min((t0) + 1, (n_tokens)-1) * (x_stride); \
  __global const float* x2 =                                  \
      (x) + (size_t)min((t0) + 2, (n_tokens)-1) * (x_stride); \
  __global const float* x3 =                                  \
      (x) + (size_t)min((t0) + 3, (n_tokens)-1) * (x_stride)

ALWAYS_INLINE float hsum16(float16 v) {
  float8 a = v.lo + v.hi;
  float4 b = a.lo + a.hi;
  float2 c = b.lo + b.hi;
  return c.x + c.y;
}

// Reduces the four per-token partial sums over the lanes and stores those of
// real tokens: y[(t0 + t) * y_stride + col]. Reached by every work-item.
ALWAYS_INLINE void store_tile(__local float* scratch, float s0, float s1,
                              float s2, float s3, __global float* y,
                              int y_stride, int col, bool valid_row, int t0,
                              int n_tokens) {
  s0 = reduce_sum_lanes(scratch, s0);
  s1 = reduce_sum_lanes(scratch, s1);
  s2 = reduce_sum_lanes(scratch, s2);
  s3 = reduce_sum_lanes(scratch, s3);
  if (LANE_ID != 0 || !valid_row) return;
  __global float* out = y + (size_t)t0 * y_stride + col;
  out[0] = s0;
  if (t0 + 1 < n_tokens) out[y_stride] = s1;
  if (t0 + 2 < n_tokens) out[2 * y_stride] = s2;
  if (t0 + 3 < n_tokens) out[3 * y_stride] = s3;
}
