// Internal to the AVX-512 VNNI kernel table (cpu_ops_avx512*.cc): the
// prefill gemm, which lives in its own file. Contracts as CpuKernels'
// quant_gemm and gemm_scratch_bytes (cpu_ops_kernels.h). Only callable on
// CPUs with AVX-512 F/BW/VL/DQ and VNNI.
#ifndef TESSERA_KERNELS_CPU_OPS_AVX512_H_
#define TESSERA_KERNELS_CPU_OPS_AVX512_H_

#include <cstdint>

#include "kernels/cpu_ops_kernels.h"

namespace tessera::kernels {

void Avx512QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch);
int64_t Avx512GemmScratchBytes(int64_t cols);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_AVX512_H_
