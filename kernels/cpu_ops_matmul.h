// Multi-threaded matrix products for the CPU backend: y = x W^T for weight
// matrices in any execution format, several matrices sharing one input in a
// single parallel region (Q/K/V, gate/up), with an optional fused residual
// add. Decode batches (few rows) stream each weight row once for all
// activation rows; larger batches use the ISA's cache-blocked gemm kernel.
//
// Thread-safety: a MatMulRunner is used by one thread at a time (it owns
// scratch buffers); it runs work on the pool it was given.
#ifndef TESSERA_KERNELS_CPU_OPS_MATMUL_H_
#define TESSERA_KERNELS_CPU_OPS_MATMUL_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "kernels/cpu_ops_buffer.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/cpu_ops_quant.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {

// One product: y[n * y_stride + r] = dot(w row r, x row n) for every weight
// row r and input row n (+= when accumulate).
struct MatMulJob {
  MatrixRef w;
  float* y = nullptr;
  int64_t y_stride = 0;
  bool accumulate = false;
};

class MatMulRunner {
 public:
  // REQUIRES: `kernels` and `pool` outlive the runner.
  MatMulRunner(const CpuKernels& kernels, ThreadPool& pool);

  // Runs every job over the same input rows x (n rows, x_stride floats
  // apart) in one parallel region. REQUIRES: all jobs have w.cols equal to
  // the input width; formats F32, F16, Q8_0 or Q4_0; quantised formats have
  // cols % 32 == 0; outputs do not overlap the input.
  void Run(absl::Span<const MatMulJob> jobs, const float* x, int64_t n,
           int64_t x_stride);

  const CpuKernels& kernels() const { return kernels_; }
  // Scratch bytes currently held (quantised activations, weight panels).
  int64_t scratch_bytes() const;

 private:
  struct WorkItem {
    int job;
    int64_t r0, r1;
  };
  void PlanItems(absl::Span<const MatMulJob> jobs, bool gemm);
  void RunItem(const MatMulJob& job, const WorkItem& item, const float* x,
               int64_t n, int64_t x_stride, bool gemm, int thread);

  const CpuKernels& kernels_;
  ThreadPool& pool_;
  QuantizedActivations q8_0_rows_, q4_0_rows_;
  std::vector<AlignedBuffer> panels_;  // per thread
  std::vector<WorkItem> items_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_OPS_MATMUL_H_
