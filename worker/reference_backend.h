// ReferenceBackend: a kernels::Backend over model::ReferenceModel, the
// readable F32 forward pass. Slow and memory-hungry (the whole model is
// dequantised to F32), but numerically the reference: the worker offers it as
// `--backend reference` so that a distributed pipeline can be checked bit
// for bit against single-process reference generation, and so that the
// distributed runtime does not depend on an optimised backend being ready.
//
// Thread-safety: like every Backend, not thread-safe; callers serialise.
#ifndef TESSERA_WORKER_REFERENCE_BACKEND_H_
#define TESSERA_WORKER_REFERENCE_BACKEND_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "kernels/backend.h"
#include "model/reference_model.h"

namespace tessera::worker {

class ReferenceBackend final : public kernels::Backend {
 public:
  explicit ReferenceBackend(const kernels::BackendOptions& options)
      : options_(options) {}

  std::string Describe() const override { return "reference (f32)"; }
  absl::StatusOr<kernels::ShardReport> LoadShard(
      const model::ModelWeights& weights,
      const kernels::ShardSpec& spec) override;
  absl::StatusOr<kernels::BatchOutput> Forward(
      const kernels::Batch& batch) override;
  absl::Status ReleaseSession(uint64_t session_id) override;
  int64_t SessionLength(uint64_t session_id) const override;
  kernels::MemoryUsage memory() const override;

 private:
  struct Group {  // a contiguous run of one session's rows
    size_t begin = 0;
    size_t end = 0;
  };
  absl::StatusOr<std::vector<Group>> Validate(const kernels::Batch& batch) const;
  absl::Status RunGroup(const kernels::Batch& batch, const Group& group,
                        kernels::BatchOutput& out);

  kernels::BackendOptions options_;
  kernels::ShardSpec spec_;
  std::unique_ptr<model::ReferenceModel> model_;
  int64_t max_tokens_ = 0;
  int64_t weight_bytes_ = 0;
  int64_t kv_bytes_per_token_ = 0;
  struct Session {
    std::unique_ptr<model::ReferenceSession> state;
    int64_t length = 0;
  };
  absl::flat_hash_map<uint64_t, Session> sessions_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_REFERENCE_BACKEND_H_
