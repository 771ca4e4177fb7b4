#include "model/model_config.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::model {
namespace {

absl::StatusOr<int64_t> RequiredInt(const GgufFile& file,
                                    const std::string& key) {
  absl::StatusOr<int64_t> value = file.GetInt(key);
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model metadata: required key ", key, ": ",
                     value.status().message()));
  }
  if (*value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model metadata: ", key, " must be positive, got ",
                     *value));
  }
  return *value;
}

// An optional key: the default when absent, an error when present but bad.
absl::StatusOr<int64_t> OptionalInt(const GgufFile& file,
                                    const std::string& key, int64_t def) {
  if (file.Find(key) == nullptr) return def;
  return RequiredInt(file, key);
}

absl::StatusOr<float> OptionalFloat(const GgufFile& file,
                                    const std::string& key, float def) {
  if (file.Find(key) == nullptr) return def;
  absl::StatusOr<double> value = file.GetFloat(key);
  if (!value.ok() || !(*value > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model metadata: ", key, " must be a positive number"));
  }
  return static_cast<float>(*value);
}

absl::Status Validate(const ModelConfig& c) {
  if (c.dim % c.n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model metadata: embedding_length ", c.dim,
        " is not divisible by head_count ", c.n_heads));
  }
  if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model metadata: head_count ", c.n_heads,
        " is not a multiple of head_count_kv ", c.n_kv_heads));
  }
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model metadata: rope.dimension_count ", c.rope_dim,
        " must be even and at most the head size ", c.head_dim));
  }
  if (c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError("model metadata: odd head size");
  }
  if (c.context_length > kMaxContextLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model metadata: context_length ", c.context_length,
        " is above the supported ", kMaxContextLength));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& file) {
  ModelConfig c;
  absl::StatusOr<std::string> arch = file.GetString("general.architecture");
  if (!arch.ok()) {
    return absl::InvalidArgumentError(
        "model metadata: missing general.architecture");
  }
  if (*arch == "llama") {
    c.arch = Architecture::kLlama;
  } else if (*arch == "qwen2") {
    c.arch = Architecture::kQwen2;
    c.qkv_bias = true;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported architecture '", *arch, "' (supported: llama, qwen2)"));
  }
  c.arch_name = *arch;
  c.name = file.GetString("general.name").value_or("");
  const std::string p = *arch + ".";
  TESSERA_ASSIGN_OR_RETURN(c.n_layers, RequiredInt(file, p + "block_count"));
  TESSERA_ASSIGN_OR_RETURN(c.dim, RequiredInt(file, p + "embedding_length"));
  TESSERA_ASSIGN_OR_RETURN(c.n_heads,
                           RequiredInt(file, p + "attention.head_count"));
  TESSERA_ASSIGN_OR_RETURN(
      c.n_kv_heads,
      OptionalInt(file, p + "attention.head_count_kv", c.n_heads));
  TESSERA_ASSIGN_OR_RETURN(c.ffn_dim,
                           RequiredInt(file, p + "feed_forward_length"));
  TESSERA_ASSIGN_OR_RETURN(c.context_length,
                           OptionalInt(file, p + "context_length", 2048));
  c.head_dim = c.dim / c.n_heads;
  TESSERA_ASSIGN_OR_RETURN(
      c.rope_dim, OptionalInt(file, p + "rope.dimension_count", c.head_dim));
  TESSERA_ASSIGN_OR_RETURN(
      c.rope_freq_base, OptionalFloat(file, p + "rope.freq_base", 10000.0f));
  TESSERA_ASSIGN_OR_RETURN(
      c.norm_eps,
      OptionalFloat(file, p + "attention.layer_norm_rms_epsilon", 1e-5f));
  const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) {
    return absl::InvalidArgumentError(
        "model: missing or malformed tensor token_embd.weight");
  }
  c.vocab_size = embd->dims[1];
  c.tied_embeddings = file.FindTensor("output.weight") == nullptr;
  TESSERA_RETURN_IF_ERROR(Validate(c));
  return c;
}

}  // namespace tessera::model
