#include "partitioner/cost_model.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

bool IsExecutionFormat(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kQ8_0 ||
         t == GgmlType::kQ4_0;
}

absl::Status CheckConfig(const model::ModelConfig& c) {
  if (c.n_layers <= 0 || c.dim <= 0 || c.n_heads <= 0 || c.ffn_dim <= 0 ||
      c.vocab_size <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model config '", c.name, "' has non-positive sizes (layers ",
        c.n_layers, ", dim ", c.dim, ", heads ", c.n_heads, "/", c.n_kv_heads,
        ", ffn ", c.ffn_dim, ", vocab ", c.vocab_size, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const CostOptions& o) {
  if (o.formats.empty()) {
    return absl::InvalidArgumentError("no candidate formats");
  }
  for (size_t i = 0; i < o.formats.size(); ++i) {
    if (!IsExecutionFormat(o.formats[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("format ", model::TypeName(o.formats[i]),
                       " is not an execution format (f32, f16, q8_0, q4_0)"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (o.formats[j] == o.formats[i]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "format ", model::TypeName(o.formats[i]), " listed twice"));
      }
    }
  }
  for (GgmlType t : {o.fallback_format, o.embedding_format, o.head_format}) {
    if (!IsExecutionFormat(t)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "format ", model::TypeName(t), " is not an execution format"));
    }
  }
  if (!model::RowFits(o.fallback_format, 1)) {
    return absl::InvalidArgumentError("fallback format must be f32 or f16");
  }
  return absl::OkStatus();
}

// Bytes of the layer's non-matrix parameters (norms, biases), kept in F32.
int64_t LayerVectorBytes(const model::ModelConfig& c) {
  int64_t values = 2 * c.dim;  // attn_norm, ffn_norm
  if (c.qkv_bias) values += c.dim + 2 * c.kv_dim();
  return values * 4;
}

absl::Status FillLayers(const model::ModelConfig& c, const CostOptions& o,
                        CostTable& t) {
  std::vector<MatrixShape> matrices = LayerMatrices(c);
  double flops = 0;
  for (const MatrixShape& m : matrices) flops += 2.0 * m.rows * m.cols;
  std::vector<int64_t> per_format;
  for (GgmlType format : o.formats) {
    int64_t bytes = LayerVectorBytes(c);
    for (const MatrixShape& m : matrices) {
      TESSERA_ASSIGN_OR_RETURN(int64_t b,
                               MatrixBytes(m, format, o.fallback_format));
      bytes += b;
    }
    per_format.push_back(bytes);
  }
  // Every layer of a llama/qwen2 model has the same shapes.
  t.layer_weight_bytes.assign(c.n_layers, per_format);
  t.layer_flops_per_token.assign(c.n_layers, flops);
  t.attn_flops_per_context_token = 4.0 * c.n_heads * c.head_dim;
  t.kv_bytes_per_token = 2 * c.kv_dim() * o.kv_bytes_per_value;
  t.scratch_bytes_per_token = 4 * (3 * c.dim + 2 * c.ffn_dim);
  return absl::OkStatus();
}

absl::Status FillEnds(const model::ModelConfig& c, const CostOptions& o,
                      CostTable& t) {
  MatrixShape table{"token_embd", c.vocab_size, c.dim};
  t.embedding_format =
      model::RowFits(o.embedding_format, c.dim) ? o.embedding_format
                                                : o.fallback_format;
  t.head_format =
      model::RowFits(o.head_format, c.dim) ? o.head_format : o.fallback_format;
  TESSERA_ASSIGN_OR_RETURN(t.embedding_bytes,
                           MatrixBytes(table, t.embedding_format, t.embedding_format));
  TESSERA_ASSIGN_OR_RETURN(int64_t head_matrix,
                           MatrixBytes(table, t.head_format, t.head_format));
  t.head_norm_bytes = 4 * c.dim;
  t.head_bytes = head_matrix + t.head_norm_bytes;
  t.tied_embeddings = c.tied_embeddings;
  if (t.tied_embeddings) t.head_format = t.embedding_format;
  if (t.tied_embeddings) t.head_bytes = t.embedding_bytes + t.head_norm_bytes;
  t.head_flops_per_token = 2.0 * c.vocab_size * c.dim;
  t.logits_bytes = 4 * c.vocab_size;
  t.activation_bytes_per_token[static_cast<int>(ActivationCodec::kF32)] =
      4 * c.dim;
  t.activation_bytes_per_token[static_cast<int>(ActivationCodec::kF16)] =
      2 * c.dim;
  auto q8 = model::RowBytes(GgmlType::kQ8_0, c.dim);
  t.activation_bytes_per_token[static_cast<int>(ActivationCodec::kQ8_0)] =
      q8.ok() ? *q8 : 0;
  return absl::OkStatus();
}

}  // namespace

std::vector<MatrixShape> LayerMatrices(const model::ModelConfig& c) {
  const int64_t q_dim = c.n_heads * c.head_dim;
  return {
      {"attn_q", q_dim, c.dim},       {"attn_k", c.kv_dim(), c.dim},
      {"attn_v", c.kv_dim(), c.dim},  {"attn_output", c.dim, q_dim},
      {"ffn_gate", c.ffn_dim, c.dim}, {"ffn_up", c.ffn_dim, c.dim},
      {"ffn_down", c.dim, c.ffn_dim},
  };
}

absl::StatusOr<int64_t> MatrixBytes(const MatrixShape& m, GgmlType format,
                                    GgmlType fallback) {
  GgmlType used = model::RowFits(format, m.cols) ? format : fallback;
  TESSERA_ASSIGN_OR_RETURN(int64_t row, model::RowBytes(used, m.cols));
  return row * m.rows;
}

int CostTable::FormatIndex(GgmlType format) const {
  auto it = std::find(formats.begin(), formats.end(), format);
  return it == formats.end() ? -1 : static_cast<int>(it - formats.begin());
}

absl::StatusOr<CostTable> BuildCostTable(const model::ModelConfig& config,
                                         const CostOptions& options) {
  TESSERA_RETURN_IF_ERROR(CheckConfig(config));
  TESSERA_RETURN_IF_ERROR(CheckOptions(options));
  CostTable t;
  t.model_name = config.name;
  t.n_layers = config.n_layers;
  t.dim = config.dim;
  t.vocab_size = config.vocab_size;
  t.context_length = config.context_length;
  t.formats = options.formats;
  TESSERA_RETURN_IF_ERROR(FillLayers(config, options, t));
  TESSERA_RETURN_IF_ERROR(FillEnds(config, options, t));
  return t;
}

}  // namespace tessera::partitioner
