#include "kernels/opencl_shard.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/shard_weights.h"

namespace tessera::kernels {
namespace {

using model::GgmlType;

constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();

absl::Status ValidateGeometry(const model::ModelConfig& c, int64_t max_tokens) {
  if (c.n_heads <= 0 || c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0 ||
      c.head_dim <= 0 || c.head_dim % 2 != 0 || c.rope_dim % 2 != 0 ||
      c.rope_dim <= 0 || c.rope_dim > c.head_dim ||
      c.dim != c.n_heads * c.head_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported attention geometry: dim ", c.dim, ", heads ",
                     c.n_heads, "/", c.n_kv_heads, ", head_dim ", c.head_dim,
                     ", rope_dim ", c.rope_dim));
  }
  const int64_t widest =
      std::max({c.dim + 2 * c.kv_dim(), 2 * c.ffn_dim, c.vocab_size});
  if (widest > kMaxIndex / 4 || max_tokens <= 0 || max_tokens > kMaxIndex ||
      max_tokens * c.kv_dim() > kMaxIndex) {
    return absl::InvalidArgumentError(
        absl::StrCat("model dimensions or context (", max_tokens,
                     " tokens) exceed the kernels' 32-bit indices"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DeviceMatrix> Upload(
    OpenClContext& context, const std::string& name,
    std::initializer_list<const ExecMatrix*> parts, ShardReport& report) {
  TESSERA_ASSIGN_OR_RETURN(
      DeviceMatrix matrix,
      UploadMatrix(context, name,
                   absl::MakeConstSpan(parts.begin(), parts.size())));
  report.weight_bytes += matrix.bytes;
  return matrix;
}

absl::StatusOr<DeviceVector> UploadVector(
    OpenClContext& context,
    std::initializer_list<const std::vector<float>*> parts,
    ShardReport& report) {
  TESSERA_ASSIGN_OR_RETURN(
      DeviceVector vector,
      UploadFloats(context, absl::MakeConstSpan(parts.begin(), parts.size())));
  report.weight_bytes += vector.bytes;
  return vector;
}

absl::StatusOr<OpenClLayer> UploadLayer(OpenClContext& context,
                                        const ExecLayer& w,
                                        ShardReport& report) {
  const std::string prefix = absl::StrCat("blk.", w.index, ".");
  OpenClLayer layer;
  TESSERA_ASSIGN_OR_RETURN(layer.attn_norm,
                           UploadVector(context, {&w.attn_norm}, report));
  TESSERA_ASSIGN_OR_RETURN(layer.ffn_norm,
                           UploadVector(context, {&w.ffn_norm}, report));
  if (!w.bq.empty() || !w.bk.empty() || !w.bv.empty()) {
    if (w.bq.empty() || w.bk.empty() || w.bv.empty()) {
      return absl::InvalidArgumentError(
          prefix + "attn: the model has some but not all Q/K/V biases");
    }
    TESSERA_ASSIGN_OR_RETURN(
        layer.qkv_bias, UploadVector(context, {&w.bq, &w.bk, &w.bv}, report));
  }
  TESSERA_ASSIGN_OR_RETURN(layer.qkv, Upload(context, prefix + "attn_qkv",
                                             {&w.wq, &w.wk, &w.wv}, report));
  TESSERA_ASSIGN_OR_RETURN(
      layer.wo, Upload(context, prefix + "attn_output", {&w.wo}, report));
  TESSERA_ASSIGN_OR_RETURN(
      layer.gate_up,
      Upload(context, prefix + "ffn_gate_up", {&w.w_gate, &w.w_up}, report));
  TESSERA_ASSIGN_OR_RETURN(
      layer.down, Upload(context, prefix + "ffn_down", {&w.w_down}, report));
  return layer;
}

// cos/sin of theta_i = pos * base^(-2i/rope_dim), computed in double.
absl::StatusOr<ClMem> UploadRopeTable(OpenClContext& context,
                                      const model::ModelConfig& c,
                                      int64_t max_tokens) {
  const int64_t half = c.rope_dim / 2;
  std::vector<float> table(max_tokens * half * 2);
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq =
        std::pow(static_cast<double>(c.rope_freq_base),
                 -2.0 * i / static_cast<double>(c.rope_dim));
    for (int64_t pos = 0; pos < max_tokens; ++pos) {
      const double theta = pos * inv_freq;
      table[(pos * half + i) * 2] = static_cast<float>(std::cos(theta));
      table[(pos * half + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }
  }
  const int64_t bytes = static_cast<int64_t>(table.size() * sizeof(float));
  TESSERA_ASSIGN_OR_RETURN(ClMem rope,
                           context.CreateBuffer(bytes, CL_MEM_READ_ONLY));
  TESSERA_RETURN_IF_ERROR(
      context.Write(rope.get(), 0, bytes, table.data(), true));
  return rope;
}

absl::Status UploadEnds(OpenClContext& context, const model::ModelWeights& w,
                        const ShardWeights& s, ThreadPool* pool,
                        OpenClShard& shard) {
  ShardReport& report = shard.report;
  if (shard.spec.has_embedding) {
    const GgmlType type = w.token_embd.type;
    const GgmlType wanted = IsExecutionFormat(type) ? type : GgmlType::kF16;
    TESSERA_ASSIGN_OR_RETURN(ExecMatrix table,
                             ConvertMatrix(w.token_embd, wanted, pool));
    if (table.format != type) {
      report.notes.push_back(absl::StrCat("token_embd converted from ",
                                          model::TypeName(type), " to ",
                                          model::TypeName(table.format)));
    }
    TESSERA_ASSIGN_OR_RETURN(DeviceMatrix m,
                             Upload(context, "token_embd", {&table}, report));
    shard.embedding = std::make_shared<DeviceMatrix>(std::move(m));
  }
  if (!shard.spec.has_head) return absl::OkStatus();
  TESSERA_ASSIGN_OR_RETURN(shard.output_norm,
                           UploadVector(context, {&s.output_norm}, report));
  if (shard.embedding != nullptr && w.output.data == w.token_embd.data &&
      shard.embedding->format == s.output.format) {
    shard.output = shard.embedding;  // tied embeddings: one device copy
    return absl::OkStatus();
  }
  TESSERA_ASSIGN_OR_RETURN(DeviceMatrix m,
                           Upload(context, "output", {&s.output}, report));
  shard.output = std::make_shared<DeviceMatrix>(std::move(m));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenClShard>> LoadOpenClShard(
    OpenClContext& context, const model::ModelWeights& weights,
    const ShardSpec& spec, int64_t max_tokens, ThreadPool* pool) {
  const model::ModelConfig& c = weights.config;
  TESSERA_RETURN_IF_ERROR(ValidateShardSpec(c, spec));
  TESSERA_RETURN_IF_ERROR(ValidateGeometry(c, max_tokens));
  TESSERA_ASSIGN_OR_RETURN(ShardWeights s,
                           PrepareShardWeights(weights, spec, pool));
  auto shard = std::make_unique<OpenClShard>();
  shard->config = c;
  shard->spec = spec;
  shard->max_tokens = max_tokens;
  shard->heads = {c.n_heads, c.n_kv_heads, c.head_dim, c.rope_dim,
                  c.arch == model::Architecture::kQwen2};
  shard->report.notes = s.notes;
  for (const ExecLayer& layer : s.layers) {
    TESSERA_ASSIGN_OR_RETURN(OpenClLayer uploaded,
                             UploadLayer(context, layer, shard->report));
    shard->layers.push_back(std::move(uploaded));
  }
  TESSERA_RETURN_IF_ERROR(UploadEnds(context, weights, s, pool, *shard));
  if (!shard->layers.empty()) {
    TESSERA_ASSIGN_OR_RETURN(shard->rope,
                             UploadRopeTable(context, c, max_tokens));
  }
  shard->report.kv_bytes_per_token =
      2 * (spec.end_layer - spec.first_layer) * c.kv_dim() * 4;
  return shard;
}

}  // namespace tessera::kernels
