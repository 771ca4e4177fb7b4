// CostTable: what running each part of a model costs, independent of any
// device: per transformer layer and candidate execution format, the bytes of
// weights, the FLOPs per token and the KV-cache bytes per token; the
// embedding (held by the first stage) and the head (final norm + output
// matrix, held by the last stage); and the activation bytes per token that
// cross a stage boundary for each activation codec.
//
// Weight bytes are exact (model::RowBytes per matrix row). A matrix whose
// rows do not fit a block format (e.g. a 172-wide ffn_down) is costed in
// `CostOptions::fallback_format` instead, as the runtime keeps it unquantised.
//
// Thread-safety: plain data.
#ifndef TESSERA_PARTITIONER_COST_MODEL_H_
#define TESSERA_PARTITIONER_COST_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ggml_types.h"
#include "model/model_config.h"
#include "partitioner/cluster.h"

namespace tessera::partitioner {

// One weight matrix of a layer: `rows` rows of `cols` values (GGUF {cols,rows}).
struct MatrixShape {
  std::string name;  // "attn_q", "ffn_down", ...
  int64_t rows = 0;
  int64_t cols = 0;
};

// The matrices of one transformer layer of `config`, in GGUF order.
std::vector<MatrixShape> LayerMatrices(const model::ModelConfig& config);

struct CostOptions {
  // Candidate execution formats for the layers, in the planner's order.
  std::vector<model::GgmlType> formats = {
      model::GgmlType::kF16, model::GgmlType::kQ8_0, model::GgmlType::kQ4_0};
  // For matrices whose rows do not fit a candidate block format.
  model::GgmlType fallback_format = model::GgmlType::kF16;
  // Formats of the token embedding and of the output matrix. When the rows
  // do not fit (dim not a multiple of 32), fallback_format is used.
  model::GgmlType embedding_format = model::GgmlType::kQ8_0;
  model::GgmlType head_format = model::GgmlType::kQ8_0;
  int64_t kv_bytes_per_value = 2;  // F16 KV cache
};

struct CostTable {
  std::string model_name;
  int64_t n_layers = 0;
  int64_t dim = 0;
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // tokens; 0 = unknown (not checked)
  std::vector<model::GgmlType> formats;  // index f of the tables below

  // [layer][f]: bytes of the layer's weights (matrices + norms + biases).
  std::vector<std::vector<int64_t>> layer_weight_bytes;
  // [layer]: FLOPs of the layer's matrix products for one token.
  std::vector<double> layer_flops_per_token;
  // FLOPs of attention (QK^T and AV) per token per token of context.
  double attn_flops_per_context_token = 0;
  // Bytes of K and V cached per token, per layer.
  int64_t kv_bytes_per_token = 0;
  // Temporary buffers per prompt token of a prefill step, per stage.
  int64_t scratch_bytes_per_token = 0;

  model::GgmlType embedding_format = model::GgmlType::kF16;
  model::GgmlType head_format = model::GgmlType::kF16;
  int64_t embedding_bytes = 0;  // token_embd
  int64_t head_bytes = 0;       // output (its own copy) + output_norm
  int64_t head_norm_bytes = 0;  // output_norm alone
  bool tied_embeddings = false;  // head reuses token_embd on the same device
  double head_flops_per_token = 0;
  int64_t logits_bytes = 0;     // one row of f32 logits

  // Bytes crossing a stage boundary per token, indexed by ActivationCodec;
  // 0 when the codec cannot encode rows of `dim` values.
  std::array<int64_t, 3> activation_bytes_per_token = {0, 0, 0};

  int num_formats() const { return static_cast<int>(formats.size()); }
  // Index of `format` in `formats`, or -1.
  int FormatIndex(model::GgmlType format) const;
};

// Builds the table for `config`. InvalidArgument for a config without
// layers or with non-positive sizes, an empty or duplicated format list, or
// a format that is not an execution format (F32, F16, Q8_0, Q4_0).
absl::StatusOr<CostTable> BuildCostTable(const model::ModelConfig& config,
                                         const CostOptions& options = {});

// Bytes of a matrix stored in `format` (fallback when rows do not fit).
absl::StatusOr<int64_t> MatrixBytes(const MatrixShape& m,
                                    model::GgmlType format,
                                    model::GgmlType fallback);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_COST_MODEL_H_
