#include "model/make_model.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::model {
namespace {

// Portable N(0, stddev) samples: Box-Muller over 53-bit uniforms.
class NormalGenerator {
 public:
  explicit NormalGenerator(uint64_t seed) : rng_(seed) {}
  void Fill(float stddev, std::vector<float>& out) {
    for (size_t i = 0; i < out.size(); i += 2) {
      const double u1 = Uniform() + 1e-300;
      const double u2 = Uniform();
      const double r = std::sqrt(-2.0 * std::log(u1)) * stddev;
      out[i] = static_cast<float>(r * std::cos(2 * M_PI * u2));
      if (i + 1 < out.size()) {
        out[i + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
      }
    }
  }

 private:
  double Uniform() {
    return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  }
  std::mt19937_64 rng_;
};

class ModelBuilder {
 public:
  ModelBuilder(const MakeModelOptions& options, GgufWriter& writer)
      : options_(options), writer_(writer), rng_(options.seed) {}

  absl::Status Matrix(const std::string& name, int64_t cols, int64_t rows) {
    GgmlType type = options_.type;
    if (!RowFits(type, cols)) type = GgmlType::kF16;
    std::vector<float> values(static_cast<size_t>(cols * rows));
    rng_.Fill(0.02f, values);
    return Add(name, type, {cols, rows}, values);
  }

  absl::Status Ones(const std::string& name, int64_t n) {
    return Add(name, GgmlType::kF32, {n}, std::vector<float>(n, 1.0f));
  }

  absl::Status Bias(const std::string& name, int64_t n) {
    std::vector<float> values(static_cast<size_t>(n));
    rng_.Fill(0.02f, values);
    return Add(name, GgmlType::kF32, {n}, values);
  }

 private:
  absl::Status Add(const std::string& name, GgmlType type,
                   std::vector<int64_t> dims, const std::vector<float>& v) {
    TESSERA_ASSIGN_OR_RETURN(int64_t row_bytes, RowBytes(type, dims[0]));
    const int64_t rows = dims.size() > 1 ? dims[1] : 1;
    std::string data(static_cast<size_t>(row_bytes * rows), '\0');
    TESSERA_RETURN_IF_ERROR(Quantize(type, v.data(), data.data(),
                                     static_cast<int64_t>(v.size())));
    return writer_.AddTensor(name, type, std::move(dims), std::move(data));
  }

  const MakeModelOptions& options_;
  GgufWriter& writer_;
  NormalGenerator rng_;
};

void SetArchitectureMetadata(const ModelConfig& c, GgufWriter& w) {
  const std::string p = c.arch_name + ".";
  w.SetValue("general.architecture", GgufValue::String(c.arch_name));
  w.SetValue("general.name", GgufValue::String(c.name));
  w.SetValue(p + "block_count", GgufValue::U32(c.n_layers));
  w.SetValue(p + "context_length", GgufValue::U32(c.context_length));
  w.SetValue(p + "embedding_length", GgufValue::U32(c.dim));
  w.SetValue(p + "feed_forward_length", GgufValue::U32(c.ffn_dim));
  w.SetValue(p + "attention.head_count", GgufValue::U32(c.n_heads));
  w.SetValue(p + "attention.head_count_kv", GgufValue::U32(c.n_kv_heads));
  w.SetValue(p + "rope.freq_base", GgufValue::F32(c.rope_freq_base));
  w.SetValue(p + "rope.dimension_count", GgufValue::U32(c.rope_dim));
  w.SetValue(p + "attention.layer_norm_rms_epsilon",
             GgufValue::F32(c.norm_eps));
}

}  // namespace

absl::Status MakeModel(const ModelShape& shape, const GgufFile& vocab,
                       const MakeModelOptions& options,
                       const std::string& path) {
  if (!Traits(options.type).can_quantize) {
    return absl::InvalidArgumentError(
        absl::StrCat("make-model: cannot write type ", TypeName(options.type)));
  }
  absl::StatusOr<std::vector<std::string>> tokens =
      vocab.GetStringArray("tokenizer.ggml.tokens");
  if (!tokens.ok() || tokens->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "make-model: ", vocab.name(), " has no tokenizer.ggml.tokens"));
  }
  ModelConfig c = shape.config;
  c.vocab_size = static_cast<int64_t>(tokens->size());
  if (options.n_layers > 0) c.n_layers = options.n_layers;
  if (options.context_length > 0) c.context_length = options.context_length;

  GgufWriter writer;
  SetArchitectureMetadata(c, writer);
  writer.CopyMetadata(vocab, "tokenizer.");
  ModelBuilder b(options, writer);
  TESSERA_RETURN_IF_ERROR(b.Matrix("token_embd.weight", c.dim, c.vocab_size));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    TESSERA_RETURN_IF_ERROR(b.Ones(p + "attn_norm.weight", c.dim));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", c.dim, c.dim));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", c.dim, c.kv_dim()));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", c.dim, c.kv_dim()));
    if (c.qkv_bias) {
      TESSERA_RETURN_IF_ERROR(b.Bias(p + "attn_q.bias", c.dim));
      TESSERA_RETURN_IF_ERROR(b.Bias(p + "attn_k.bias", c.kv_dim()));
      TESSERA_RETURN_IF_ERROR(b.Bias(p + "attn_v.bias", c.kv_dim()));
    }
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", c.dim, c.dim));
    TESSERA_RETURN_IF_ERROR(b.Ones(p + "ffn_norm.weight", c.dim));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", c.dim, c.ffn_dim));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", c.dim, c.ffn_dim));
    TESSERA_RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", c.ffn_dim, c.dim));
  }
  TESSERA_RETURN_IF_ERROR(b.Ones("output_norm.weight", c.dim));
  if (!c.tied_embeddings) {
    TESSERA_RETURN_IF_ERROR(b.Matrix("output.weight", c.dim, c.vocab_size));
  }
  return writer.WriteToFile(path);
}

}  // namespace tessera::model
