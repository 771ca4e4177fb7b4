// ModelWeights: typed, validated views of a model's tensors inside a GGUF
// mapping. Nothing is copied: each TensorView points into the GgufFile, which
// must outlive the views. Names follow GGUF (`blk.N.attn_q.weight`, ...).
//
// Matrix convention (as in GGUF/ggml): a weight of dims {in, out} stores
// `out` rows of `in` contiguous values; y[o] = sum_i W[o][i] * x[i].
#ifndef TESSERA_MODEL_WEIGHTS_H_
#define TESSERA_MODEL_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/ggml_types.h"
#include "model/gguf.h"
#include "model/model_config.h"

namespace tessera::model {

struct TensorView {
  std::string name;
  GgmlType type = GgmlType::kF32;
  int64_t cols = 0;  // ne[0]: values per row
  int64_t rows = 1;  // ne[1] (1 for vectors)
  const uint8_t* data = nullptr;
  int64_t bytes = 0;

  bool present() const { return data != nullptr; }
  int64_t row_bytes() const { return rows > 0 ? bytes / rows : 0; }
  const uint8_t* row(int64_t r) const { return data + r * row_bytes(); }
  // Dequantises the whole tensor to F32 (rows * cols values).
  absl::StatusOr<std::vector<float>> ToFloat() const;
};

struct LayerWeights {
  TensorView attn_norm;                 // {dim}
  TensorView wq, wk, wv, wo;            // {dim, dim}, {dim, kv_dim} x2, {dim, dim}
  TensorView bq, bk, bv;                // qwen2 only: {dim}, {kv_dim}, {kv_dim}
  TensorView ffn_norm;                  // {dim}
  TensorView w_gate, w_up, w_down;      // {dim, ffn} x2, {ffn, dim}
};

struct ModelWeights {
  ModelConfig config;
  TensorView token_embd;   // {dim, vocab}
  TensorView output_norm;  // {dim}
  TensorView output;       // {dim, vocab}; == token_embd when tied
  std::vector<LayerWeights> layers;
};

// Finds and validates every tensor the config needs: presence, rank, dims and
// type (must be dequantisable). InvalidArgument naming the tensor otherwise.
absl::StatusOr<ModelWeights> LoadWeights(const GgufFile& file,
                                         const ModelConfig& config);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_WEIGHTS_H_
