// OpenClOps: enqueues the transformer's operations (kernels/opencl/*.cl) with
// the geometry chosen in OpenClKernels. Every call only enqueues; results are
// visible to later commands of the same in-order queue and to the host after
// a blocking read.
//
// Row-major float buffers throughout; "stride" is the distance in floats
// between consecutive rows. Sizes are int64 in the API and must fit int32
// (the backend validates model shapes once at load).
//
// Thread-safety: not thread-safe (shares the kernels' argument state).
#ifndef TESSERA_KERNELS_OPENCL_OPS_H_
#define TESSERA_KERNELS_OPENCL_OPS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/opencl_kernels.h"
#include "kernels/opencl_matrix.h"

namespace tessera::kernels {

// Attention geometry of a model.
struct HeadShape {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t rope_dim = 0;  // <= head_dim, even
  bool neox = false;     // rotate (i, i + rope_dim/2) instead of (2i, 2i+1)
  int64_t dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  int64_t qkv_dim() const { return dim() + 2 * kv_dim(); }
};

class OpenClOps {
 public:
  // `kernels` must outlive the result. NotFound if a kernel is missing.
  static absl::StatusOr<OpenClOps> Create(OpenClKernels* kernels);

  // y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tokens, r < w.rows.
  absl::Status MatMul(const DeviceMatrix& w, cl_mem x, int64_t x_stride,
                      int64_t n_tokens, cl_mem y, int64_t y_stride);

  // out[r] = rmsnorm(x[r]) * weight, rows of `dim`.
  absl::Status RmsNorm(cl_mem x, cl_mem weight, cl_mem out, int64_t dim,
                       float eps, int64_t n_rows);
  // x[r] += delta[r], then out[r] = rmsnorm(x[r]) * weight.
  absl::Status AddRmsNorm(cl_mem x, cl_mem delta, cl_mem weight, cl_mem out,
                          int64_t dim, float eps, int64_t n_rows);
  // out[r] = rmsnorm(x[rows[r]]) * weight; `rows` holds n_rows int32.
  absl::Status RmsNormGather(cl_mem x, cl_mem rows, cl_mem weight, cl_mem out,
                             int64_t dim, float eps, int64_t n_rows);

  // For qkv rows row_begin.. +n_rows at positions pos0..: adds `bias` (may be
  // null), rotates Q and K by the angles of `rope` ([pos][rope_dim/2] cos,sin)
  // and stores K, V at those positions of the caches ([pos][kv_dim]).
  absl::Status RopeStore(const HeadShape& shape, cl_mem qkv, int64_t row_begin,
                         int64_t n_rows, int64_t pos0, cl_mem rope, cl_mem bias,
                         cl_mem k_cache, cl_mem v_cache);

  // Causal attention of qkv rows row_begin.. (positions pos0..) over cache
  // positions 0..pos; writes out rows row_begin.. (dim wide). `scores` holds
  // n_rows * n_heads * scores_stride floats, scores_stride >= pos0 + n_rows.
  absl::Status Attention(const HeadShape& shape, cl_mem qkv, int64_t row_begin,
                         int64_t n_rows, int64_t pos0, cl_mem k_cache,
                         cl_mem v_cache, cl_mem scores, int64_t scores_stride,
                         cl_mem out);

  // x[i] += delta[i] for i < n.
  absl::Status Add(cl_mem x, cl_mem delta, int64_t n);

  // out[r] = silu(gu[r][0:ffn]) * gu[r][ffn:2ffn].
  absl::Status SiluMul(cl_mem gu, cl_mem out, int64_t ffn, int64_t n_rows);

  // out[r] = table row tokens[r] as floats; tokens hold n_rows int32 ids,
  // each < table.rows.
  absl::Status GetRows(const DeviceMatrix& table, cl_mem tokens, int64_t n_rows,
                       cl_mem out);

 private:
  struct FormatKernels {
    KernelInfo* matvec = nullptr;
    KernelInfo* matmul = nullptr;
    KernelInfo* get_rows = nullptr;
  };
  explicit OpenClOps(OpenClKernels* kernels) : kernels_(kernels) {}
  const FormatKernels* ForFormat(model::GgmlType format) const;
  // Floats of local memory a matvec/matmul launch over `w` needs for its
  // input, besides the lane reduction slots.
  size_t InputScratchFloats(const DeviceMatrix& w, int64_t n_tokens) const;
  // Rows per work-group of `k` over a chunk of `w` of `rows` rows.
  size_t RowsPerGroup(const KernelInfo& k, const DeviceMatrix& w,
                      int64_t n_tokens, int64_t rows) const;
  // Local scratch of a matvec/matmul launch; ResourceExhausted beyond the
  // device's local memory.
  absl::StatusOr<LocalBytes> MatMulScratch(const DeviceMatrix& w,
                                           const KernelInfo& k,
                                           size_t rows_per_group,
                                           int64_t n_tokens) const;

  OpenClKernels* kernels_;
  FormatKernels f32_, f16_, q8_0_, q4_0_;
  KernelInfo* rmsnorm_ = nullptr;
  KernelInfo* rmsnorm_gather_ = nullptr;
  KernelInfo* add_rmsnorm_ = nullptr;
  KernelInfo* add_rows_ = nullptr;
  KernelInfo* rope_store_ = nullptr;
  KernelInfo* attention_ = nullptr;
  KernelInfo* silu_mul_ = nullptr;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_OPS_H_
