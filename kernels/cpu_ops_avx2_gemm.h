// The AVX2 prefill gemm for Q8_0 / Q4_0 weights, internal to the CPU
// kernels: cpu_ops_avx2.cc puts these two functions in the AVX2 table
// (CpuKernels::quant_gemm and gemm_scratch_bytes, whose contracts apply).
// Defined only where the AVX2 kernels are compiled (x86-64 with GCC or
// Clang), and runnable only where IsaAvailable(CpuIsa::kAvx2).
//
// Activations must be quantised with the AVX2 table's offsets (Q8_0: 0,
// Q4_0: 8); the nibble-group layout is not used.
#ifndef TESSERA_KERNELS_CPU_OPS_AVX2_GEMM_H_
#define TESSERA_KERNELS_CPU_OPS_AVX2_GEMM_H_

#include <cstdint>

#include "kernels/cpu_ops_kernels.h"

namespace tessera::kernels::avx2 {

// REQUIRES: w.format is Q8_0 or Q4_0; r0 % kGemmPanelRows == 0; `scratch`
// is 64-byte aligned and GemmScratchBytes(w.cols) long.
void QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
               const QuantizedRows& x, float* y, int64_t y_stride,
               bool accumulate, uint8_t* scratch);

// Bytes of one repacked panel of kGemmPanelRows rows of `cols` values.
int64_t GemmScratchBytes(int64_t cols);

}  // namespace tessera::kernels::avx2

#endif  // TESSERA_KERNELS_CPU_OPS_AVX2_GEMM_H_
