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

// Two-stream decode: the decode kernels read two weight rows side by side,
// row i of the first half of their row range beside row i of the second:
// two sequential streams per core. Against one row at a time this lets
// each core keep more of the memory system busy (the hardware prefetcher
// runs ahead on both streams) and halves the activation loads per weight
// byte. On the development machine (Zen 5, two cores, weights in 2 MiB
// pages) the tinyllama-1.1b Q4_0 matrices of one decode step went from
// 0.80-0.83 to 0.89-0.99 of the plain read bandwidth when the memory bus
// was free.

// How far ahead of the computation each decode stream is prefetched. The
// two streams together stay above the bandwidth-delay product of one core
// (~35 GB/s x ~150 ns); longer distances measured worse (16 KiB: 3-8%
// fewer bytes per second) because decode work items are short and the
// prefetches past an item's end are wasted.
inline constexpr int64_t kPrefetchBytes = 4096;

void Avx512QuantGemm(const MatrixRef& w, int64_t r0, int64_t r1,
                     const QuantizedRows& x, float* y, int64_t y_stride,
                     bool accumulate, uint8_t* scratch);
int64_t Avx512GemmScratchBytes(int64_t cols);

// quant_matvec for Q4_0 weights in the tile layout (w.q4_tiled) with `x` in
// the activation tile layout (x.tiles != nullptr) and the table's offset 8.
void Avx512Q4TileMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                        const QuantizedRows& x, float* y, int64_t y_stride,
                        bool accumulate);

// quant_matvec for Q4_0 weights whose rows start at even addresses, with
// `x` in the stream layout (x.stream != nullptr) and the table's offset 8.
void Avx512Q4StreamMatVec(const MatrixRef& w, int64_t r0, int64_t r1,
                          const QuantizedRows& x, float* y, int64_t y_stride,
                          bool accumulate);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_AVX512_H_
