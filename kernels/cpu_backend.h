// CpuBackend: the multi-threaded CPU implementation of kernels::Backend.
//
// Weights are executed in their formats (F32, F16, Q8_0, Q4_0) straight
// from the model's mapping when already stored that way (no F32 copies);
// Q8_0/Q4_0 products quantise activations to 8-bit blocks and use integer
// dot-product kernels picked at run time (AVX-512 VNNI, AVX-VNNI, AVX2, NEON,
// scalar).
// Matrix products are row-parallel over a persistent ThreadPool; prefill
// batches use a cache-blocked gemm. Attention runs over a paged per-session
// KV cache (F32 or F16) charged against BackendOptions::kv_budget_bytes.
//
// Large batches are processed in passes of at most kMaxRowsPerPass rows, so
// scratch memory stays bounded whatever the prompt length.
//
// Thread-safety: as Backend (callers serialise calls).
#ifndef TESSERA_KERNELS_CPU_BACKEND_H_
#define TESSERA_KERNELS_CPU_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/cpu_kv_cache.h"
#include "kernels/cpu_ops_buffer.h"
#include "kernels/cpu_ops_kernels.h"
#include "kernels/cpu_ops_matmul.h"
#include "kernels/shard_weights.h"
#include "kernels/thread_pool.h"

namespace tessera::kernels {

struct CpuBackendOptions {
  CpuIsa isa = CpuIsa::kBest;  // kernels to use
};

// InvalidArgument for threads < 1, a negative budget, a KV type other than
// F32/F16 (BackendOptions::kv_type); Unavailable when `isa` cannot run on
// this machine.
absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const BackendOptions& options, const CpuBackendOptions& cpu_options = {});

class CpuBackend final : public Backend {
 public:
  static constexpr int64_t kMaxRowsPerPass = 256;

  std::string Describe() const override;
  absl::StatusOr<ShardReport> LoadShard(const model::ModelWeights& weights,
                                        const ShardSpec& spec) override;
  absl::StatusOr<BatchOutput> Forward(const Batch& batch) override;
  absl::Status ReleaseSession(uint64_t session_id) override;
  int64_t SessionLength(uint64_t session_id) const override;
  MemoryUsage memory() const override;

  CpuIsa isa() const { return kernels_.isa; }

 private:
  friend absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
      const BackendOptions&, const CpuBackendOptions&);

  // Consecutive rows of one session: rows [begin, begin + count) at
  // positions start, start + 1, ...
  struct Segment {
    uint64_t session;
    int64_t begin;
    int64_t count;
    int64_t start;
  };

  CpuBackend(const BackendOptions& options, const CpuKernels& kernels);

  // Rows, hidden size and token ids; InvalidArgument otherwise.
  absl::Status CheckBatchShape(const Batch& batch) const;
  // Groups the rows into segments and checks that they continue their
  // sessions and fit the context. Changes nothing.
  absl::StatusOr<std::vector<Segment>> PlanBatch(const Batch& batch) const;
  // The input hidden rows: embedded tokens or a copy of batch.hidden.
  absl::StatusOr<std::vector<float>> InputRows(const Batch& batch) const;
  absl::Status ReserveKv(const std::vector<Segment>& segments);
  // Runs rows [begin, end) of the batch through the shard's layers; `x`
  // holds their hidden states (in and out).
  void RunPass(const std::vector<Segment>& segments, int64_t begin, int64_t end,
               float* x);
  void RunLayer(int64_t l, int64_t n, float* x);
  void NormRows(const float* x, const std::vector<float>& weight, int64_t n,
                float* out);
  // Q/K/V of the normed rows into q_, k_, v_.
  void ProjectQkv(int64_t l, int64_t n);
  // Biases and RoPE of row i's KV heads [kv_head, kv_head + kv_heads) and
  // their query heads; stores those heads' keys and values in the cache.
  void PrepareHeads(int64_t l, int64_t i, int64_t kv_head, int64_t kv_heads);
  // Attention of row i's query heads of one KV head, into att_.
  void AttendTask(int64_t l, int64_t i, int64_t kv_head, int thread);
  // PrepareHeads and AttendTask for every row and head of the pass.
  void Attention(int64_t l, int64_t n);
  // SwiGLU FFN of the normed rows, added into x.
  void FeedForward(int64_t l, int64_t n, float* x);
  // Final norm + output matrix for the rows that want logits.
  void Head(const Batch& batch, const float* x, int64_t begin, int64_t n,
            float* logits);
  void EnsureScratch(int64_t rows);

  const BackendOptions options_;
  const CpuKernels& kernels_;
  ThreadPool pool_;
  MatMulRunner matmul_;

  std::optional<ShardWeights> shard_;
  std::unique_ptr<KvCache> kv_;
  int64_t max_context_ = 0;
  std::vector<double> rope_inv_freq_;

  // Scratch, sized for kMaxRowsPerPass rows at most.
  AlignedBuffer norm_, q_, k_, v_, att_, gate_, up_, cos_sin_;
  std::vector<AlignedBuffer> scores_;  // per thread
  std::vector<int64_t> row_position_;  // per row of the pass
  std::vector<const Segment*> row_segment_;
  // No session has two rows in the pass (RunPass): decode.
  bool one_row_per_session_ = false;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_CPU_BACKEND_H_
