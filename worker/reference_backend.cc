#include "worker/reference_backend.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::worker {

absl::StatusOr<kernels::ShardReport> ReferenceBackend::LoadShard(
    const model::ModelWeights& weights, const kernels::ShardSpec& spec) {
  const model::ModelConfig& config = weights.config;
  if (model_ != nullptr) {
    return absl::FailedPreconditionError("LoadShard may be called once");
  }
  if (spec.first_layer < 0 || spec.first_layer > spec.end_layer ||
      spec.end_layer > config.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad layer range [", spec.first_layer, ", ",
                     spec.end_layer, ") for ", config.n_layers, " layers"));
  }
  const int64_t n = spec.end_layer - spec.first_layer;
  if (!spec.layer_formats.empty() &&
      static_cast<int64_t>(spec.layer_formats.size()) != n) {
    return absl::InvalidArgumentError("layer_formats size != layer count");
  }
  model::ReferenceOptions options;
  options.layer_formats.assign(config.n_layers, model::GgmlType::kF32);
  for (int64_t i = 0; i < static_cast<int64_t>(spec.layer_formats.size()); ++i) {
    options.layer_formats[spec.first_layer + i] = spec.layer_formats[i];
  }
  TESSERA_ASSIGN_OR_RETURN(model_,
                           model::ReferenceModel::Create(weights, options));
  spec_ = spec;
  max_tokens_ = options_.max_context_tokens > 0
                    ? std::min(options_.max_context_tokens, config.context_length)
                    : config.context_length;
  const int64_t layer_values =
      2 * config.dim + 2 * config.dim * config.dim +
      2 * config.dim * config.kv_dim() + 3 * config.dim * config.ffn_dim;
  weight_bytes_ = 4 * n * layer_values;
  if (spec.has_embedding) weight_bytes_ += 4 * config.vocab_size * config.dim;
  if (spec.has_head) weight_bytes_ += 4 * (config.vocab_size + 1) * config.dim;
  kv_bytes_per_token_ = 2 * 4 * config.kv_dim() * n;
  kernels::ShardReport report;
  report.weight_bytes = weight_bytes_;
  report.kv_bytes_per_token = kv_bytes_per_token_;
  report.notes.push_back("reference backend: weights held in f32");
  return report;
}

absl::StatusOr<std::vector<ReferenceBackend::Group>> ReferenceBackend::Validate(
    const kernels::Batch& batch) const {
  const model::ModelConfig& config = model_->config();
  const size_t rows = batch.rows.size();
  if (rows == 0) return absl::InvalidArgumentError("empty batch");
  if (!spec_.has_embedding &&
      batch.hidden.size() != rows * static_cast<size_t>(config.dim)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch has ", batch.hidden.size(), " hidden values for ", rows,
        " rows of ", config.dim));
  }
  std::vector<Group> groups;
  absl::flat_hash_set<uint64_t> seen;
  for (size_t i = 0; i < rows; ++i) {
    const kernels::BatchRow& row = batch.rows[i];
    if (spec_.has_embedding &&
        (row.token < 0 || row.token >= config.vocab_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token ", row.token, " is outside the vocabulary"));
    }
    if (i > 0 && row.session_id == batch.rows[i - 1].session_id) {
      if (row.position != batch.rows[i - 1].position + 1) {
        return absl::InvalidArgumentError("positions of a session must ascend");
      }
      groups.back().end = i + 1;
      continue;
    }
    if (!seen.insert(row.session_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rows of session ", row.session_id, " are not contiguous"));
    }
    auto it = sessions_.find(row.session_id);
    const int64_t length = it == sessions_.end() ? 0 : it->second.length;
    if (row.position != 0 && row.position != length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "session ", row.session_id, " is at position ", length,
          ", row says ", row.position));
    }
    groups.push_back(Group{i, i + 1});
  }
  for (const Group& g : groups) {
    const int64_t last = batch.rows[g.end - 1].position;
    if (last >= max_tokens_) {
      return absl::OutOfRangeError(absl::StrCat(
          "position ", last, " exceeds the context of ", max_tokens_));
    }
  }
  return groups;
}

absl::Status ReferenceBackend::RunGroup(const kernels::Batch& batch,
                                        const Group& group,
                                        kernels::BatchOutput& out) {
  const int64_t dim = model_->config().dim;
  const kernels::BatchRow& first = batch.rows[group.begin];
  Session& session = sessions_[first.session_id];
  if (first.position == 0 || session.state == nullptr) {
    session.state = model_->NewSession(max_tokens_);
    session.length = 0;
  }
  std::vector<float> hidden;
  if (spec_.has_embedding) {
    std::vector<int32_t> tokens;
    for (size_t i = group.begin; i < group.end; ++i) {
      tokens.push_back(batch.rows[i].token);
    }
    TESSERA_ASSIGN_OR_RETURN(hidden, session.state->Embed(tokens));
  } else {
    hidden.assign(batch.hidden.begin() + group.begin * dim,
                  batch.hidden.begin() + group.end * dim);
  }
  TESSERA_RETURN_IF_ERROR(session.state->ForwardLayers(
      spec_.first_layer, spec_.end_layer, hidden));
  session.length += group.end - group.begin;
  if (!spec_.has_head) {
    out.data.insert(out.data.end(), hidden.begin(), hidden.end());
    out.num_rows += group.end - group.begin;
    return absl::OkStatus();
  }
  const std::vector<float> logits = session.state->Head(hidden);
  const int64_t vocab = model_->config().vocab_size;
  for (size_t i = group.begin; i < group.end; ++i) {
    if (!batch.rows[i].want_output) continue;
    const auto row = logits.begin() + (i - group.begin) * vocab;
    out.data.insert(out.data.end(), row, row + vocab);
    ++out.num_rows;
  }
  return absl::OkStatus();
}

absl::StatusOr<kernels::BatchOutput> ReferenceBackend::Forward(
    const kernels::Batch& batch) {
  if (model_ == nullptr) return absl::FailedPreconditionError("no shard loaded");
  TESSERA_ASSIGN_OR_RETURN(std::vector<Group> groups, Validate(batch));
  kernels::BatchOutput out;
  out.row_width = spec_.has_head ? model_->config().vocab_size
                                 : model_->config().dim;
  for (const Group& group : groups) {
    TESSERA_RETURN_IF_ERROR(RunGroup(batch, group, out));
  }
  return out;
}

absl::Status ReferenceBackend::ReleaseSession(uint64_t session_id) {
  if (sessions_.erase(session_id) == 0) {
    return absl::NotFoundError(absl::StrCat("no session ", session_id));
  }
  return absl::OkStatus();
}

int64_t ReferenceBackend::SessionLength(uint64_t session_id) const {
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? 0 : it->second.length;
}

kernels::MemoryUsage ReferenceBackend::memory() const {
  kernels::MemoryUsage usage;
  usage.weight_bytes = weight_bytes_;
  usage.kv_budget_bytes = options_.kv_budget_bytes;
  usage.kv_bytes_reserved =
      static_cast<int64_t>(sessions_.size()) * max_tokens_ * kv_bytes_per_token_;
  return usage;
}

}  // namespace tessera::worker
