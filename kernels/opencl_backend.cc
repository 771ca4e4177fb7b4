#include "kernels/opencl_backend.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/opencl_batch_plan.h"
#include "kernels/opencl_context.h"
#include "kernels/opencl_device.h"
#include "kernels/opencl_kernels.h"
#include "kernels/opencl_kv_cache.h"
#include "kernels/opencl_ops.h"
#include "kernels/opencl_program_cache.h"
#include "kernels/opencl_shard.h"

namespace tessera::kernels {
namespace {

constexpr int64_t kDefaultRowsPerPass = 256;
// Cap of the attention score scratch: long contexts are attended in several
// launches rather than with one huge buffer.
constexpr int64_t kMaxScoreBytes = 64 << 20;

// Activation buffers of one pass over the layers, sized for `rows` rows.
struct Scratch {
  int64_t rows = 0;
  ClMem x, xn, qkv, att, delta, gu, h, logits, tokens, out_rows;
  ClMem scores;
  int64_t score_floats = 0;
  int64_t bytes = 0;
};

class OpenClBackend final : public Backend {
 public:
  OpenClBackend(std::unique_ptr<OpenClContext> context,
                std::unique_ptr<OpenClProgramCache> cache,
                std::unique_ptr<OpenClKernels> kernels, OpenClOps ops,
                const BackendOptions& options, int64_t rows_per_pass)
      : context_(std::move(context)),
        cache_(std::move(cache)),
        kernels_(std::move(kernels)),
        ops_(std::move(ops)),
        options_(options),
        rows_per_pass_(rows_per_pass) {}

  std::string Describe() const override {
    return context_->device().Describe();
  }
  absl::StatusOr<ShardReport> LoadShard(const model::ModelWeights& weights,
                                        const ShardSpec& spec) override;
  absl::StatusOr<BatchOutput> Forward(const Batch& batch) override;
  absl::Status ReleaseSession(uint64_t session_id) override {
    if (kv_ == nullptr) return absl::NotFoundError("no shard loaded");
    return kv_->Release(session_id);
  }
  int64_t SessionLength(uint64_t session_id) const override {
    return kv_ == nullptr ? 0 : kv_->Length(session_id);
  }
  MemoryUsage memory() const override;

 private:
  absl::Status Execute(const Batch& batch, const std::vector<SessionRun>& runs,
                       BatchOutput& output);
  void Abandon(const std::vector<SessionRun>& runs,
               const std::vector<uint64_t>& created);
  absl::Status RunPass(const Batch& batch, const std::vector<SessionRun>& runs,
                       int64_t begin, int64_t end, BatchOutput& output);
  absl::Status LoadInput(const Batch& batch, int64_t begin, int64_t n);
  absl::Status RunLayer(int64_t layer, int64_t n,
                        const std::vector<SessionRun>& runs);
  absl::Status Attend(int64_t layer, const SessionRun& run);
  absl::Status ReadOutput(const Batch& batch, int64_t begin, int64_t n,
                          BatchOutput& output);
  absl::Status EnsureScratch(int64_t rows);
  absl::StatusOr<ClMem> Allocate(int64_t bytes);

  std::unique_ptr<OpenClContext> context_;
  std::unique_ptr<OpenClProgramCache> cache_;
  std::unique_ptr<OpenClKernels> kernels_;
  OpenClOps ops_;
  BackendOptions options_;
  int64_t rows_per_pass_;
  std::unique_ptr<OpenClShard> shard_;
  std::unique_ptr<OpenClKvCache> kv_;
  Scratch scratch_;
};

absl::StatusOr<ShardReport> OpenClBackend::LoadShard(
    const model::ModelWeights& weights, const ShardSpec& spec) {
  if (shard_ != nullptr) {
    return absl::FailedPreconditionError("LoadShard may be called once");
  }
  const model::ModelConfig& c = weights.config;
  const int64_t max_tokens = options_.max_context_tokens > 0
                                 ? options_.max_context_tokens
                                 : c.context_length;
  ThreadPool pool(options_.threads);  // for format conversions only
  TESSERA_ASSIGN_OR_RETURN(
      shard_, LoadOpenClShard(*context_, weights, spec, max_tokens, &pool));
  kv_ = std::make_unique<OpenClKvCache>(
      context_.get(), spec.end_layer - spec.first_layer, c.kv_dim(), max_tokens,
      options_.kv_budget_bytes);
  int64_t widest = std::max({c.dim, c.dim + 2 * c.kv_dim(), 2 * c.ffn_dim});
  if (spec.has_head) widest = std::max(widest, c.vocab_size);
  rows_per_pass_ = std::max<int64_t>(
      1, std::min(rows_per_pass_, context_->max_buffer_bytes() / (4 * widest)));
  ShardReport report = shard_->report;
  report.kv_growth = 2;  // capacities double while the budget allows
  report.kv_budget_bytes = kv_->budget_bytes();
  return report;
}

MemoryUsage OpenClBackend::memory() const {
  MemoryUsage usage;
  usage.weight_bytes = shard_ == nullptr ? 0 : shard_->report.weight_bytes;
  usage.kv_bytes_reserved = kv_ == nullptr ? 0 : kv_->reserved_bytes();
  usage.kv_budget_bytes = options_.kv_budget_bytes;
  usage.scratch_bytes = scratch_.bytes;
  return usage;
}

absl::StatusOr<BatchOutput> OpenClBackend::Forward(const Batch& batch) {
  if (shard_ == nullptr) {
    return absl::FailedPreconditionError("Forward before LoadShard");
  }
  const model::ModelConfig& c = shard_->config;
  const BatchLimits limits{c.dim, shard_->spec.has_embedding, c.vocab_size,
                           shard_->max_tokens};
  TESSERA_ASSIGN_OR_RETURN(std::vector<SessionRun> runs,
                           PlanBatch(batch, limits, [this](uint64_t id) {
                             return kv_->Length(id);
                           }));
  std::vector<std::pair<uint64_t, int64_t>> needs;
  std::vector<uint64_t> created;
  for (const SessionRun& run : runs) {
    needs.emplace_back(run.session_id, run.pos0 + run.rows);
    if (!kv_->Contains(run.session_id)) created.push_back(run.session_id);
  }
  absl::Status status = kv_->Reserve(needs);
  if (!status.ok()) {  // nothing was written: only undo the creations
    for (uint64_t id : created) kv_->Release(id).IgnoreError();
    return status;
  }
  BatchOutput output;
  status = Execute(batch, runs, output);
  if (!status.ok()) {
    Abandon(runs, created);
    return status;
  }
  for (const SessionRun& run : runs) {
    kv_->SetLength(run.session_id, run.pos0 + run.rows);
  }
  return output;
}

// After a failed Execute (a device error): sessions this batch created are
// dropped; a session the batch restarted at position 0 may have had its
// cache partly overwritten by a device error mid-way, so it is emptied
// rather than left claiming stale tokens. Continuing sessions only had
// positions past their length written and keep their state.
void OpenClBackend::Abandon(const std::vector<SessionRun>& runs,
                            const std::vector<uint64_t>& created) {
  context_->Finish().IgnoreError();  // nothing may still read host memory
  for (uint64_t id : created) kv_->Release(id).IgnoreError();
  for (const SessionRun& run : runs) {
    if (run.pos0 == 0 && kv_->Contains(run.session_id) &&
        kv_->Length(run.session_id) > 0) {
      kv_->SetLength(run.session_id, 0);
    }
  }
}

absl::Status OpenClBackend::Execute(const Batch& batch,
                                    const std::vector<SessionRun>& runs,
                                    BatchOutput& output) {
  const model::ModelConfig& c = shard_->config;
  output.row_width = shard_->spec.has_head ? c.vocab_size : c.dim;
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  for (int64_t begin = 0; begin < n; begin += rows_per_pass_) {
    const int64_t end = std::min(n, begin + rows_per_pass_);
    // The runs of this pass, with rows relative to the pass.
    std::vector<SessionRun> pass_runs;
    for (const SessionRun& run : runs) {
      const int64_t lo = std::max(begin, run.row_begin);
      const int64_t hi = std::min(end, run.row_begin + run.rows);
      if (lo >= hi) continue;
      pass_runs.push_back({run.session_id, lo - begin, hi - lo,
                           run.pos0 + (lo - run.row_begin)});
    }
    TESSERA_RETURN_IF_ERROR(RunPass(batch, pass_runs, begin, end, output));
  }
  return absl::OkStatus();
}

absl::Status OpenClBackend::RunPass(const Batch& batch,
                                    const std::vector<SessionRun>& runs,
                                    int64_t begin, int64_t end,
                                    BatchOutput& output) {
  const int64_t n = end - begin;
  TESSERA_RETURN_IF_ERROR(EnsureScratch(n));
  TESSERA_RETURN_IF_ERROR(LoadInput(batch, begin, n));
  for (int64_t layer = 0; layer < static_cast<int64_t>(shard_->layers.size());
       ++layer) {
    TESSERA_RETURN_IF_ERROR_CTX(
        RunLayer(layer, n, runs),
        absl::StrCat("layer ", shard_->spec.first_layer + layer));
  }
  return ReadOutput(batch, begin, n, output);
}

absl::Status OpenClBackend::LoadInput(const Batch& batch, int64_t begin,
                                      int64_t n) {
  const int64_t dim = shard_->config.dim;
  if (!shard_->spec.has_embedding) {
    return context_->Write(scratch_.x.get(), 0, n * dim * 4,
                           batch.hidden.data() + begin * dim, true);
  }
  std::vector<int32_t> tokens(n);
  for (int64_t i = 0; i < n; ++i) tokens[i] = batch.rows[begin + i].token;
  TESSERA_RETURN_IF_ERROR(
      context_->Write(scratch_.tokens.get(), 0, n * 4, tokens.data(), true));
  return ops_.GetRows(*shard_->embedding, scratch_.tokens.get(), n,
                      scratch_.x.get());
}

absl::Status OpenClBackend::RunLayer(int64_t layer, int64_t n,
                                     const std::vector<SessionRun>& runs) {
  const model::ModelConfig& c = shard_->config;
  const OpenClLayer& w = shard_->layers[layer];
  const HeadShape& heads = shard_->heads;
  Scratch& s = scratch_;
  TESSERA_RETURN_IF_ERROR(ops_.RmsNorm(s.x.get(), w.attn_norm.data.get(),
                                       s.xn.get(), c.dim, c.norm_eps, n));
  TESSERA_RETURN_IF_ERROR(
      ops_.MatMul(w.qkv, s.xn.get(), c.dim, n, s.qkv.get(), heads.qkv_dim()));
  for (const SessionRun& run : runs) {
    TESSERA_RETURN_IF_ERROR(ops_.RopeStore(
        heads, s.qkv.get(), run.row_begin, run.rows, run.pos0,
        shard_->rope.get(), w.qkv_bias.data.get(),
        kv_->k(run.session_id, layer), kv_->v(run.session_id, layer)));
    TESSERA_RETURN_IF_ERROR(Attend(layer, run));
  }
  TESSERA_RETURN_IF_ERROR(
      ops_.MatMul(w.wo, s.att.get(), c.dim, n, s.delta.get(), c.dim));
  TESSERA_RETURN_IF_ERROR(ops_.AddRmsNorm(s.x.get(), s.delta.get(),
                                          w.ffn_norm.data.get(), s.xn.get(),
                                          c.dim, c.norm_eps, n));
  TESSERA_RETURN_IF_ERROR(
      ops_.MatMul(w.gate_up, s.xn.get(), c.dim, n, s.gu.get(), 2 * c.ffn_dim));
  TESSERA_RETURN_IF_ERROR(ops_.SiluMul(s.gu.get(), s.h.get(), c.ffn_dim, n));
  TESSERA_RETURN_IF_ERROR(
      ops_.MatMul(w.down, s.h.get(), c.ffn_dim, n, s.delta.get(), c.dim));
  return ops_.Add(s.x.get(), s.delta.get(), n * c.dim);
}

// Attention of one run, in launches whose score scratch fits kMaxScoreBytes.
absl::Status OpenClBackend::Attend(int64_t layer, const SessionRun& run) {
  const HeadShape& heads = shard_->heads;
  const int64_t stride = run.pos0 + run.rows;
  const int64_t row_floats = heads.n_heads * stride;
  const int64_t limit_floats =
      std::min(kMaxScoreBytes, context_->max_buffer_bytes()) / 4;
  if (row_floats > limit_floats) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "attention scores of ", stride, " positions exceed the scratch limit"));
  }
  const int64_t rows_per_launch =
      std::min(run.rows, std::max<int64_t>(1, limit_floats / row_floats));
  if (rows_per_launch * row_floats > scratch_.score_floats) {
    const int64_t floats = std::min(
        limit_floats,
        std::max(rows_per_launch * row_floats, 2 * scratch_.score_floats));
    scratch_.bytes -= scratch_.score_floats * 4;
    scratch_.scores.reset();
    TESSERA_ASSIGN_OR_RETURN(scratch_.scores, Allocate(floats * 4));
    scratch_.score_floats = floats;
  }
  for (int64_t r = 0; r < run.rows; r += rows_per_launch) {
    const int64_t rows = std::min(rows_per_launch, run.rows - r);
    TESSERA_RETURN_IF_ERROR(ops_.Attention(
        heads, scratch_.qkv.get(), run.row_begin + r, rows, run.pos0 + r,
        kv_->k(run.session_id, layer), kv_->v(run.session_id, layer),
        scratch_.scores.get(), stride, scratch_.att.get()));
  }
  return absl::OkStatus();
}

absl::Status OpenClBackend::ReadOutput(const Batch& batch, int64_t begin,
                                       int64_t n, BatchOutput& output) {
  const model::ModelConfig& c = shard_->config;
  if (!shard_->spec.has_head) {
    output.data.resize((output.num_rows + n) * c.dim);
    TESSERA_RETURN_IF_ERROR(
        context_->Read(scratch_.x.get(), 0, n * c.dim * 4,
                       output.data.data() + output.num_rows * c.dim));
    output.num_rows += n;
    return absl::OkStatus();
  }
  std::vector<int32_t> rows;
  for (int64_t i = 0; i < n; ++i) {
    if (batch.rows[begin + i].want_output)
      rows.push_back(static_cast<int32_t>(i));
  }
  const int64_t m = static_cast<int64_t>(rows.size());
  if (m == 0) return context_->Finish();
  TESSERA_RETURN_IF_ERROR(
      context_->Write(scratch_.out_rows.get(), 0, m * 4, rows.data(), true));
  TESSERA_RETURN_IF_ERROR(ops_.RmsNormGather(
      scratch_.x.get(), scratch_.out_rows.get(), shard_->output_norm.data.get(),
      scratch_.xn.get(), c.dim, c.norm_eps, m));
  TESSERA_RETURN_IF_ERROR(ops_.MatMul(*shard_->output, scratch_.xn.get(), c.dim,
                                      m, scratch_.logits.get(), c.vocab_size));
  output.data.resize((output.num_rows + m) * c.vocab_size);
  TESSERA_RETURN_IF_ERROR(
      context_->Read(scratch_.logits.get(), 0, m * c.vocab_size * 4,
                     output.data.data() + output.num_rows * c.vocab_size));
  output.num_rows += m;
  return absl::OkStatus();
}

absl::StatusOr<ClMem> OpenClBackend::Allocate(int64_t bytes) {
  TESSERA_ASSIGN_OR_RETURN(ClMem mem, context_->CreateBuffer(bytes));
  scratch_.bytes += bytes;
  return mem;
}

absl::Status OpenClBackend::EnsureScratch(int64_t rows) {
  if (rows <= scratch_.rows) return absl::OkStatus();
  const model::ModelConfig& c = shard_->config;
  // Release the smaller buffers first (lower peak); keep the score scratch.
  Scratch grown;
  grown.scores = std::move(scratch_.scores);
  grown.score_floats = scratch_.score_floats;
  grown.bytes = grown.score_floats * 4;
  scratch_ = std::move(grown);
  const int64_t floats_per_row[] = {c.dim,    c.dim, shard_->heads.qkv_dim(),
                                    c.dim,    c.dim, 2 * c.ffn_dim,
                                    c.ffn_dim};
  ClMem* targets[] = {&scratch_.x,   &scratch_.xn,    &scratch_.qkv,
                      &scratch_.att, &scratch_.delta, &scratch_.gu,
                      &scratch_.h};
  for (size_t i = 0; i < 7; ++i) {
    TESSERA_ASSIGN_OR_RETURN(*targets[i],
                             Allocate(rows * floats_per_row[i] * 4));
  }
  TESSERA_ASSIGN_OR_RETURN(scratch_.tokens, Allocate(rows * 4));
  TESSERA_ASSIGN_OR_RETURN(scratch_.out_rows, Allocate(rows * 4));
  if (shard_->spec.has_head) {
    TESSERA_ASSIGN_OR_RETURN(scratch_.logits,
                             Allocate(rows * c.vocab_size * 4));
  }
  scratch_.rows = rows;  // only once every buffer exists
  return absl::OkStatus();
}

absl::Status ValidateOptions(const BackendOptions& options) {
  if (options.threads < 1 || options.kv_budget_bytes < 0 ||
      options.max_context_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad backend options: threads ", options.threads, ", kv budget ",
        options.kv_budget_bytes, ", max context ", options.max_context_tokens));
  }
  if (options.kv_type != GgmlType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("opencl backend: the KV cache is kept in f32, not ",
                     TypeName(options.kv_type)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateOpenClBackend(
    int platform, int device, const BackendOptions& options) {
  return CreateOpenClBackend(platform, device, options, OpenClTuning());
}

absl::StatusOr<std::unique_ptr<Backend>> CreateOpenClBackend(
    int platform, int device, const BackendOptions& options,
    const OpenClTuning& tuning) {
  TESSERA_RETURN_IF_ERROR(ValidateOptions(options));
  TESSERA_ASSIGN_OR_RETURN(OpenClDeviceInfo info,
                           SelectOpenClDevice(platform, device));
  const std::string where = info.Describe();
  TESSERA_ASSIGN_OR_RETURN(auto context, OpenClContext::Create(info));
  context->set_max_buffer_bytes(tuning.max_buffer_bytes);
  auto cache = std::make_unique<OpenClProgramCache>(
      context.get(),
      tuning.cache_dir.value_or(OpenClProgramCache::DefaultDir()));
  absl::StatusOr<std::unique_ptr<OpenClKernels>> kernels =
      OpenClKernels::Create(context.get(), cache.get(), tuning.lanes);
  if (!kernels.ok()) return Annotate(kernels.status(), where);
  TESSERA_ASSIGN_OR_RETURN(OpenClOps ops, OpenClOps::Create(kernels->get()));
  const int64_t rows_per_pass = tuning.max_rows_per_pass > 0
                                    ? tuning.max_rows_per_pass
                                    : kDefaultRowsPerPass;
  return std::unique_ptr<Backend>(new OpenClBackend(
      std::move(context), std::move(cache), std::move(*kernels), std::move(ops),
      options, rows_per_pass));
}

}  // namespace tessera::kernels
