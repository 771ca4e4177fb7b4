// Internal to the AVX-512 VNNI kernel table (cpu_ops_avx512*.cc): the
// prefill gemm and the Q4_0 stream decode kernel, which live in their own
// files. Contracts as CpuKernels' quant_gemm, gemm_scratch_bytes and
// quant_matvec (cpu_ops_kernels.h). Only callable on CPUs with AVX-512
// F/BW/VL/DQ and VNNI.
#ifndef TESSERA_KERNELS_CPU_OPS_AVX512_H_
#define TESSERA_KERNELS_CPU_OPS_AVX512_H_

#include <cstdint>

#include "kernels/cpu_ops_kernels.h"

// The target features of these files (TESSERA_TARGET_PUSH, x86_intrinsics.h).
#define TESSERA_AVX512_TARGET \
  "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"

namespace tessera::kernels {

// How far ahead of the computation the decode kernels prefetch the weight
// stream: more than the bandwidth-delay product of one core's memory stream
// (~35 GB/s x ~150 ns); the hardware prefetcher alone restarts too often on
// short rows.
inline constexpr int64_t kPrefetchBytes = 16384;

void Avx512QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch);
int64_t Avx512GemmScratchBytes(int64_t cols);

// quant_matvec for Q4_0 weights whose rows start at even addresses, with
// `x` in the stream layout (x.stream != nullptr) and the table's offset 8.
void Avx512Q4StreamMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                          const QuantizedRows& x, float* y, int64_t y_stride,
                          bool accumulate);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_AVX512_H_
