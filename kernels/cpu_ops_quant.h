// Quantisation of activation rows into the 8-bit blocks (QuantizedRows of
// cpu_ops_kernels.h) that the integer dot-product kernels consume.
#ifndef TESSERA_KERNELS_CPU_OPS_QUANT_H_
#define TESSERA_KERNELS_CPU_OPS_QUANT_H_

#include <cstdint>

#include "kernels/cpu_ops_buffer.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {

// Quantises one row of `cols` floats: per block of 32, d = max|x| / 127 and
// q = round-to-nearest-even(x / d); block_corr / quad_corr receive
// -offset * the sums of q per block / per 4 values.
// REQUIRES: cols % 32 == 0; outputs sized cols, cols/32, cols/32, cols/4.
void QuantizeRow(const float* x, int64_t cols, int32_t offset, int8_t* qs,
                 float* scales, int32_t* block_corr, int32_t* quad_corr);

// Rearranges one quantised row (qs and scales of `blocks` blocks, as
// written by QuantizeRow with the same `offset`) into the Q4_0 stream
// layout of QuantizedRows. REQUIRES: `stream` holds
// ceil(blocks / kQ4StreamBlocks) * kQ4StreamBytes bytes, 4-byte aligned.
void StreamRow(const int8_t* qs, const float* scales, int64_t blocks,
               int32_t offset, uint8_t* stream);

// Owns the storage of a QuantizedRows and fills it. Not thread-safe.
class QuantizedActivations {
 public:
  // Quantises `n` rows of `cols` floats, `x_stride` floats apart, splitting
  // rows across `pool` (may be null) when there are several; with `stream`
  // also fills the Q4_0 stream layout, with `tiles` the Q4_0 tile layout.
  // REQUIRES: cols % 32 == 0.
  void Quantize(const float* x, int64_t n, int64_t cols, int64_t x_stride,
                int32_t offset, bool stream, ThreadPool* pool,
                bool tiles = false);

  const QuantizedRows& rows() const { return rows_; }

 private:
  AlignedBuffer storage_;
  QuantizedRows rows_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_QUANT_H_
