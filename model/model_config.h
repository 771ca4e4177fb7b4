// ModelConfig: the hyperparameters of a decoder-only transformer, read from
// GGUF metadata (`<arch>.block_count`, `<arch>.embedding_length`, ...).
//
// Supported architectures: `llama` (Llama 2/3, TinyLlama, SmolLM, Mistral-style
// grouped-query attention) and `qwen2` (Q/K/V biases). Keys that are absent
// take the defaults documented per field.
#ifndef TESSERA_MODEL_MODEL_CONFIG_H_
#define TESSERA_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "model/gguf.h"

namespace tessera::model {

enum class Architecture { kLlama, kQwen2 };

// The longest context a model file may declare (ConfigFromGguf refuses
// more): far above any model's, low enough that sizes derived from it
// cannot overflow.
inline constexpr int64_t kMaxContextLength = int64_t{1} << 24;

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string arch_name = "llama";  // as in `general.architecture`
  std::string name;                 // `general.name`, may be empty
  int64_t n_layers = 0;             // <arch>.block_count
  int64_t dim = 0;                  // <arch>.embedding_length
  int64_t n_heads = 0;              // <arch>.attention.head_count
  int64_t n_kv_heads = 0;           // .head_count_kv, default n_heads
  int64_t ffn_dim = 0;              // <arch>.feed_forward_length
  int64_t vocab_size = 0;           // rows of token_embd.weight
  int64_t context_length = 2048;    // <arch>.context_length, default 2048
  int64_t head_dim = 0;             // dim / n_heads
  int64_t rope_dim = 0;             // .rope.dimension_count, default head_dim
  float rope_freq_base = 10000.0f;  // .rope.freq_base, default 10000
  float norm_eps = 1e-5f;           // .attention.layer_norm_rms_epsilon
  bool qkv_bias = false;            // true for qwen2
  bool tied_embeddings = false;     // true when output.weight is absent

  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Reads and validates the hyperparameters. InvalidArgument (naming the key)
// for an unsupported architecture, a missing required key, or inconsistent
// values (dim not divisible by heads, heads not divisible by kv heads, ...).
absl::StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& file);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_MODEL_CONFIG_H_
