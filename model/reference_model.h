// ReferenceModel: a clear, readable F32 implementation of the whole model
// (llama and qwen2), the numerical reference that every backend and every
// distributed configuration is compared with. Not fast; obviously correct.
//
// Weights are dequantised to F32 copies at Create. Optionally each layer's
// matrices can be round-tripped through an execution format (quantise, then
// dequantise) to measure what that format costs in quality.
//
// Thread-safety: ReferenceModel is immutable after Create and may be shared;
// a ReferenceSession is used by one thread at a time.
#ifndef TESSERA_MODEL_REFERENCE_MODEL_H_
#define TESSERA_MODEL_REFERENCE_MODEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/ggml_types.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace tessera::model {

struct ReferenceOptions {
  // Empty, or one format per layer: that layer's matrices are replaced by
  // their quantise->dequantise round trip through the format (rows that do
  // not fit the block size stay exact). F32 means unchanged.
  std::vector<GgmlType> layer_formats;
};

class ReferenceSession;

class ReferenceModel {
 public:
  // InvalidArgument for a bad layer_formats size or non-quantisable format.
  static absl::StatusOr<std::unique_ptr<ReferenceModel>> Create(
      const ModelWeights& weights, const ReferenceOptions& options = {});

  const ModelConfig& config() const { return config_; }

  // A new session with an empty KV cache of `max_tokens` (<= context length).
  std::unique_ptr<ReferenceSession> NewSession(int64_t max_tokens) const;

  // One layer's weights in F32 (defined in the .cc).
  struct Layer;

  ~ReferenceModel();

 private:
  friend class ReferenceSession;
  ReferenceModel() = default;

  ModelConfig config_;
  std::vector<float> token_embd_;   // vocab x dim
  std::vector<float> output_norm_;  // dim
  std::vector<float> output_;       // vocab x dim (copy of embd when tied)
  std::vector<std::unique_ptr<Layer>> layers_;
};

class ReferenceSession {
 public:
  // Runs `tokens` at the next positions. Returns the logits (vocab floats)
  // of the last token. OutOfRange when the cache would overflow;
  // InvalidArgument for an empty input or a token id outside the vocabulary.
  absl::StatusOr<std::vector<float>> Forward(absl::Span<const int32_t> tokens);

  // Like Forward, but returns the logits of every token (n x vocab).
  absl::StatusOr<std::vector<float>> ForwardAll(
      absl::Span<const int32_t> tokens);

  // Runs layers [first, end) in place over hidden states `hidden` (n x dim),
  // without embedding or head; used to compare a backend's shard with the
  // reference. Each layer keeps its own cache length: the rows go to the
  // positions following what that layer has cached. InvalidArgument when
  // the range is bad or its layers disagree on the position.
  absl::Status ForwardLayers(int64_t first, int64_t end,
                             std::vector<float>& hidden);

  // Embedding lookup (n x dim) and head (final norm + output, n x vocab).
  absl::StatusOr<std::vector<float>> Embed(
      absl::Span<const int32_t> tokens) const;
  std::vector<float> Head(const std::vector<float>& hidden) const;

  // Tokens processed so far by the last layer run.
  int64_t position() const { return position_; }

 private:
  void RunLayer(int64_t layer, float* hidden, int64_t n);

  friend class ReferenceModel;
  ReferenceSession(const ReferenceModel* model, int64_t max_tokens);

  const ReferenceModel* model_;
  int64_t max_tokens_;
  int64_t position_ = 0;
  // Per layer: max_tokens x kv_dim keys and values.
  std::vector<std::vector<float>> k_cache_;
  std::vector<std::vector<float>> v_cache_;
  std::vector<int64_t> layer_positions_;  // tokens cached per layer
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_REFERENCE_MODEL_H_
