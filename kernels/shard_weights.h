// ShardWeights: the weights of one shard (ShardSpec) converted into their
// execution formats, shared by every backend: the CPU backend executes them
// in place, the OpenCL backend uploads them.
//
// A matrix already stored in its execution format is not copied: its
// ExecMatrix points into the model's mapping (which must then outlive the
// ShardWeights). Any other readable source type is dequantised row by row
// and requantised into the format. Rows whose length does not fit the
// format's 32-value blocks (stories260K's ffn_down, 172 wide) are kept in F16
// (in F32 when F32 was asked), and a note says so.
//
// Norm weights and biases are converted to F32 vectors. The token embedding
// stays a view into the mapping; EmbedRows() dequantises looked-up rows.
//
// All functions are thread-safe; the structs are plain values (move-only).
#ifndef TESSERA_KERNELS_SHARD_WEIGHTS_H_
#define TESSERA_KERNELS_SHARD_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/large_pages.h"
#include "kernels/backend.h"
#include "model/ggml_types.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace tessera::kernels {

class ThreadPool;

// One matrix in its execution format: `rows` rows of `cols` values, each
// `row_bytes` long (GGUF block layout), row-major at `data`.
struct ExecMatrix {
  std::string name;  // GGUF tensor name, e.g. "blk.3.attn_q.weight"
  GgmlType format = GgmlType::kF32;
  GgmlType source_format = GgmlType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_bytes = 0;
  int64_t bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping, or storage.data()
  bool in_place = false;
  bool q4_tiled = false;  // Q4_0 rows in the tile layout (q4_tiles.h)
  LargePageBuffer storage;  // the converted bytes unless in_place

  ExecMatrix() = default;
  ExecMatrix(ExecMatrix&&) = default;  // storage's buffer (and data) move along
  ExecMatrix& operator=(ExecMatrix&&) = default;
  ExecMatrix(const ExecMatrix&) = delete;
  ExecMatrix& operator=(const ExecMatrix&) = delete;
};

struct ExecLayer {
  int64_t index = 0;                 // layer number in the whole model
  GgmlType format = GgmlType::kF32;  // as asked by the spec
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> bq, bk, bv;  // empty unless the model has Q/K/V biases
  ExecMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
};

struct ShardWeights {
  model::ModelConfig config;
  ShardSpec spec;
  std::vector<ExecLayer> layers;   // spec.end_layer - spec.first_layer
  model::TensorView token_embd;    // present iff spec.has_embedding
  std::vector<float> output_norm;  // non-empty iff spec.has_head
  ExecMatrix output;               // iff spec.has_head
  std::vector<std::string> notes;  // formats that differ from the spec's
  int64_t weight_bytes = 0;        // matrices + vectors + embedding table
  int64_t converted_bytes = 0;     // of which owned (not in place)
};

// Whether `format` is an execution format (F32, F16, Q8_0, Q4_0).
bool IsExecutionFormat(GgmlType format);

// The format a matrix with rows of `cols` values gets when `wanted` is
// asked: `wanted` if its blocks fit, else F16 (F32 stays F32).
GgmlType ExecutionFormatFor(GgmlType wanted, int64_t cols);

// Checks `spec` against `config`: layer range inside the model, one
// execution format per layer, embedding only with layer 0, head only with
// the last layer, and something to run. InvalidArgument naming the problem.
absl::Status ValidateShardSpec(const model::ModelConfig& config,
                               const ShardSpec& spec);

// Converts one matrix (see the file comment). `pool` may be null.
// InvalidArgument when the view is inconsistent or its type unreadable.
absl::StatusOr<ExecMatrix> ConvertMatrix(const model::TensorView& view,
                                         GgmlType wanted, ThreadPool* pool);

// Validates `spec` and converts every matrix and vector of the shard.
// Errors name the tensor. REQUIRES: `weights` outlives the result.
absl::StatusOr<ShardWeights> PrepareShardWeights(
    const model::ModelWeights& weights, const ShardSpec& spec,
    ThreadPool* pool);

// Rearranges every Q4_0 layer matrix and the output matrix of `shard` into
// the tile layout (q4_tiles.h), in owned storage (`pool` may be null).
// Matrices that pointed into a mapped model file stop doing so and their
// pages there are dropped (MappedFile::DropPages), so resident memory does
// not double.
// ResourceExhausted when the memory cannot be had.
absl::Status TileQ4Matrices(ShardWeights& shard, ThreadPool* pool);

// Dequantises token_embd rows of `tokens` into out (tokens.size() x dim).
// InvalidArgument for a token outside the vocabulary.
absl::Status EmbedRows(const model::TensorView& token_embd,
                       absl::Span<const int32_t> tokens, float* out);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_SHARD_WEIGHTS_H_
