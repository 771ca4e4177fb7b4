#include "kernels/local_model.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::kernels {

absl::StatusOr<std::unique_ptr<BackendLogitsModel>> BackendLogitsModel::Create(
    std::unique_ptr<Backend> backend, const model::ModelWeights& weights,
    GgmlType format, int64_t max_tokens) {
  ShardSpec spec;
  spec.first_layer = 0;
  spec.end_layer = weights.config.n_layers;
  spec.has_embedding = true;
  spec.has_head = true;
  spec.layer_formats.assign(weights.config.n_layers, format);
  // Keep the output matrix in its stored type when that is an execution
  // format (no F32 copy of a 32000 x 2048 head); otherwise use `format`.
  const GgmlType stored = weights.output.type;
  const bool executable = stored == GgmlType::kF32 ||
                          stored == GgmlType::kF16 ||
                          stored == GgmlType::kQ8_0 ||
                          stored == GgmlType::kQ4_0;
  spec.head_format = executable ? stored : format;
  std::unique_ptr<BackendLogitsModel> model(
      new BackendLogitsModel(std::move(backend), max_tokens));
  TESSERA_ASSIGN_OR_RETURN(model->report_,
                           model->backend_->LoadShard(weights, spec));
  return model;
}

absl::StatusOr<std::vector<float>> BackendLogitsModel::Forward(
    absl::Span<const int32_t> tokens) {
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to run");
  if (position_ + static_cast<int64_t>(tokens.size()) > max_tokens_) {
    return absl::OutOfRangeError(absl::StrCat(
        position_ + tokens.size(), " tokens exceed the context of ",
        max_tokens_));
  }
  Batch batch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    BatchRow row;
    row.session_id = 1;
    row.position = position_ + static_cast<int32_t>(i);
    row.token = tokens[i];
    row.want_output = i + 1 == tokens.size();
    batch.rows.push_back(row);
  }
  TESSERA_ASSIGN_OR_RETURN(BatchOutput out, backend_->Forward(batch));
  position_ += static_cast<int32_t>(tokens.size());
  return std::move(out.data);
}

}  // namespace tessera::kernels
