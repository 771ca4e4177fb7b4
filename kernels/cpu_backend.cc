#include "kernels/cpu_backend.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/cpu_ops.h"

namespace tessera::kernels {

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const BackendOptions& options, const CpuBackendOptions& cpu_options) {
  if (options.threads < 1 || options.threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cpu backend: threads must be in [1, 1024], got ", options.threads));
  }
  if (options.kv_budget_bytes < 0 || options.max_context_tokens < 0) {
    return absl::InvalidArgumentError(
        "cpu backend: KV budget and context length must not be negative");
  }
  if (options.kv_type != GgmlType::kF32 && options.kv_type != GgmlType::kF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu backend: KV cache type must be f32 or f16, got ",
                     TypeName(options.kv_type)));
  }
  if (!IsaAvailable(cpu_options.isa)) {
    return absl::UnavailableError(
        absl::StrCat("cpu backend: ", IsaName(cpu_options.isa),
                     " kernels are not available on this machine (best: ",
                     IsaName(DetectBestIsa()), ")"));
  }
  return std::unique_ptr<Backend>(
      new CpuBackend(options, GetCpuKernels(cpu_options.isa)));
}

CpuBackend::CpuBackend(const BackendOptions& options, const CpuKernels& kernels)
    : options_(options),
      kernels_(kernels),
      pool_(options.threads),
      matmul_(kernels, pool_),
      scores_(options.threads) {}

std::string CpuBackend::Describe() const {
  return absl::StrCat("cpu (", IsaName(kernels_.isa), ", ", pool_.num_threads(),
                      " threads, ", TypeName(options_.kv_type), " KV)");
}

absl::StatusOr<ShardReport> CpuBackend::LoadShard(
    const model::ModelWeights& weights, const ShardSpec& spec) {
  if (shard_.has_value()) {
    return absl::FailedPreconditionError("cpu backend: shard already loaded");
  }
  TESSERA_ASSIGN_OR_RETURN(ShardWeights shard,
                           PrepareShardWeights(weights, spec, &pool_));
  if (kernels_.q4_0_tiles) {
    TESSERA_RETURN_IF_ERROR(TileQ4Matrices(shard, &pool_));
  }
  const model::ModelConfig& c = shard.config;
  if (c.dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.n_heads % c.n_kv_heads != 0 || c.head_dim * c.n_heads != c.dim ||
      c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    return absl::InvalidArgumentError(
        "cpu backend: inconsistent attention dimensions in the config");
  }
  max_context_ = options_.max_context_tokens > 0 ? options_.max_context_tokens
                                                 : c.context_length;
  kv_ = std::make_unique<KvCache>(static_cast<int64_t>(shard.layers.size()),
                                  c.kv_dim(), options_.kv_type,
                                  options_.kv_budget_bytes);
  rope_inv_freq_ = RopeInverseFrequencies(c.rope_dim, c.rope_freq_base);
  ShardReport report;
  report.notes = shard.notes;
  report.weight_bytes = shard.weight_bytes;
  report.kv_bytes_per_token = kv_->bytes_per_token();
  report.kv_page_tokens = KvCache::kPageTokens;
  report.kv_budget_bytes = kv_->budget_bytes();
  shard_ = std::move(shard);
  return report;
}

absl::Status CpuBackend::CheckBatchShape(const Batch& batch) const {
  const model::ModelConfig& c = shard_->config;
  const int64_t rows = static_cast<int64_t>(batch.rows.size());
  if (rows == 0) return absl::InvalidArgumentError("empty batch");
  if (!shard_->spec.has_embedding &&
      static_cast<int64_t>(batch.hidden.size()) != rows * c.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch hidden has ", batch.hidden.size(),
                     " floats, expected ", rows, " rows x ", c.dim));
  }
  for (int64_t i = 0; shard_->spec.has_embedding && i < rows; ++i) {
    const int32_t token = batch.rows[i].token;
    if (token < 0 || token >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, ": token id ", token,
                       " outside the vocabulary of ", c.vocab_size));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CpuBackend::Segment>> CpuBackend::PlanBatch(
    const Batch& batch) const {
  TESSERA_RETURN_IF_ERROR(CheckBatchShape(batch));
  std::vector<Segment> segments;
  absl::flat_hash_set<uint64_t> seen;
  for (int64_t i = 0; i < static_cast<int64_t>(batch.rows.size()); ++i) {
    const BatchRow& row = batch.rows[i];
    if (!segments.empty() && segments.back().session == row.session_id) {
      Segment& s = segments.back();
      if (row.position != s.start + s.count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "row ", i, ": session ", row.session_id, " position ", row.position,
            " does not follow ", s.start + s.count - 1));
      }
      ++s.count;
      continue;
    }
    if (!seen.insert(row.session_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, ": rows of session ", row.session_id,
                       " are not contiguous"));
    }
    const int64_t cached = kv_->Length(row.session_id);
    if (row.position != 0 && row.position != cached) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row ", i, ": session ", row.session_id, " position ", row.position,
          " does not continue its cache of ", cached, " tokens"));
    }
    segments.push_back({row.session_id, i, 1, row.position});
  }
  for (const Segment& s : segments) {
    if (s.start + s.count > max_context_) {
      return absl::OutOfRangeError(
          absl::StrCat("session ", s.session, ": ", s.start + s.count,
                       " tokens exceed the context of ", max_context_));
    }
  }
  return segments;
}

absl::Status CpuBackend::ReserveKv(const std::vector<Segment>& segments) {
  std::vector<std::pair<uint64_t, int64_t>> needs;
  needs.reserve(segments.size());
  for (const Segment& s : segments)
    needs.push_back({s.session, s.start + s.count});
  return kv_->Reserve(needs);
}

absl::StatusOr<std::vector<float>> CpuBackend::InputRows(
    const Batch& batch) const {
  if (!shard_->spec.has_embedding) return batch.hidden;
  std::vector<float> x(batch.rows.size() * shard_->config.dim);
  std::vector<int32_t> tokens;
  tokens.reserve(batch.rows.size());
  for (const BatchRow& row : batch.rows) tokens.push_back(row.token);
  TESSERA_RETURN_IF_ERROR(EmbedRows(shard_->token_embd, tokens, x.data()));
  return x;
}

absl::StatusOr<BatchOutput> CpuBackend::Forward(const Batch& batch) {
  if (!shard_.has_value()) {
    return absl::FailedPreconditionError("cpu backend: no shard loaded");
  }
  TESSERA_ASSIGN_OR_RETURN(std::vector<Segment> segments, PlanBatch(batch));
  TESSERA_ASSIGN_OR_RETURN(std::vector<float> x, InputRows(batch));
  // Last check that can fail; from here on the batch runs to completion.
  TESSERA_RETURN_IF_ERROR(ReserveKv(segments));

  const model::ModelConfig& c = shard_->config;
  const int64_t rows = static_cast<int64_t>(batch.rows.size());
  BatchOutput out{{}, c.dim, rows};
  if (shard_->spec.has_head) {
    out.row_width = c.vocab_size;
    out.num_rows =
        std::count_if(batch.rows.begin(), batch.rows.end(),
                      [](const BatchRow& r) { return r.want_output; });
    out.data.resize(out.num_rows * c.vocab_size);
  }
  float* logits = out.data.data();
  for (int64_t begin = 0; begin < rows; begin += kMaxRowsPerPass) {
    const int64_t end = std::min(rows, begin + kMaxRowsPerPass);
    RunPass(segments, begin, end, x.data() + begin * c.dim);
    if (!shard_->spec.has_head) continue;
    Head(batch, x.data() + begin * c.dim, begin, end - begin, logits);
    for (int64_t i = begin; i < end; ++i) {
      logits += batch.rows[i].want_output ? c.vocab_size : 0;
    }
  }
  for (const Segment& s : segments) {
    kv_->SetLength(s.session, s.start + s.count);
  }
  if (!shard_->spec.has_head) out.data = std::move(x);
  return out;
}

absl::Status CpuBackend::ReleaseSession(uint64_t session_id) {
  if (kv_ == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown session ", session_id));
  }
  return kv_->Release(session_id);
}

int64_t CpuBackend::SessionLength(uint64_t session_id) const {
  return kv_ == nullptr ? 0 : kv_->Length(session_id);
}

MemoryUsage CpuBackend::memory() const {
  MemoryUsage m;
  m.weight_bytes = shard_.has_value() ? shard_->weight_bytes : 0;
  m.kv_bytes_reserved = kv_ == nullptr ? 0 : kv_->reserved_bytes();
  m.kv_bytes_cached = kv_ == nullptr ? 0 : kv_->cached_bytes();
  m.kv_budget_bytes = options_.kv_budget_bytes;
  m.scratch_bytes = matmul_.scratch_bytes();
  for (const AlignedBuffer* b :
       {&norm_, &q_, &k_, &v_, &att_, &gate_, &up_, &cos_sin_}) {
    m.scratch_bytes += b->capacity();
  }
  for (const AlignedBuffer& b : scores_) m.scratch_bytes += b.capacity();
  return m;
}

}  // namespace tessera::kernels
