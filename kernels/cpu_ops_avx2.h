// Internal to the CPU kernel tables: the AVX2 + FMA + F16C float matmul of
// cpu_ops_avx2.cc, which the AVX-VNNI table (cpu_ops_avx_vnni.cc) shares,
// since VNNI adds nothing for float weights. Contract as
// CpuKernels::float_matmul (cpu_ops_kernels.h). Defined only where the AVX2
// kernels are compiled (x86-64 with GCC or Clang), and runnable only where
// IsaAvailable(CpuIsa::kAvx2).
#ifndef TESSERA_KERNELS_CPU_OPS_AVX2_H_
#define TESSERA_KERNELS_CPU_OPS_AVX2_H_

#include <cstdint>

#include "kernels/cpu_ops_kernels.h"

namespace tessera::kernels::avx2 {

// REQUIRES: w.format is F32 or F16.
void FloatMatMul(const MatrixRef& w, int64_t r0, int64_t r1, const float* x,
                 int64_t n, int64_t x_stride, float* y, int64_t y_stride,
                 bool accumulate);

}  // namespace tessera::kernels::avx2

#endif  // TESSERA_KERNELS_CPU_OPS_AVX2_H_
