// BackendLogitsModel: a whole model on one local backend (every layer, the
// embedding and the head in one shard), presented as a model::LogitsModel
// for single-stream generation (`tessera run --backend ...`).
#ifndef TESSERA_KERNELS_LOCAL_MODEL_H_
#define TESSERA_KERNELS_LOCAL_MODEL_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "model/generation.h"
#include "model/weights.h"

namespace tessera::kernels {

class BackendLogitsModel : public model::LogitsModel {
 public:
  // Loads all of `weights` onto `backend` with every layer in `format`; the
  // head stays in its stored type when the backend executes that type.
  // REQUIRES: `weights` outlives the returned object.
  static absl::StatusOr<std::unique_ptr<BackendLogitsModel>> Create(
      std::unique_ptr<Backend> backend, const model::ModelWeights& weights,
      GgmlType format, int64_t max_tokens);

  absl::StatusOr<std::vector<float>> Forward(
      absl::Span<const int32_t> tokens) override;
  int64_t max_tokens() const override { return max_tokens_; }
  const ShardReport& report() const { return report_; }
  Backend& backend() { return *backend_; }

 private:
  BackendLogitsModel(std::unique_ptr<Backend> backend, int64_t max_tokens)
      : backend_(std::move(backend)), max_tokens_(max_tokens) {}

  std::unique_ptr<Backend> backend_;
  int64_t max_tokens_;
  int32_t position_ = 0;
  ShardReport report_;
};

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_LOCAL_MODEL_H_
