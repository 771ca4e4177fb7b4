#include "model/model_shapes.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tessera::model {
namespace {

ModelShape Shape(const char* name, Architecture arch, int64_t dim,
                 int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn,
                 int64_t vocab, int64_t ctx, float rope_base, float eps,
                 bool tied) {
  ModelShape s;
  s.name = name;
  ModelConfig& c = s.config;
  c.arch = arch;
  c.arch_name = arch == Architecture::kQwen2 ? "qwen2" : "llama";
  c.name = name;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.ffn_dim = ffn;
  c.vocab_size = vocab;
  c.context_length = ctx;
  c.head_dim = dim / heads;
  c.rope_dim = c.head_dim;
  c.rope_freq_base = rope_base;
  c.norm_eps = eps;
  c.qkv_bias = arch == Architecture::kQwen2;
  c.tied_embeddings = tied;
  return s;
}

}  // namespace

// Figures from each model's published config.json on Hugging Face.
const std::vector<ModelShape>& KnownShapes() {
  static const auto* shapes = new std::vector<ModelShape>{
      Shape("stories260k", Architecture::kLlama, 64, 5, 8, 4, 172, 512, 512,
            10000.0f, 1e-5f, true),
      Shape("smollm2-135m", Architecture::kLlama, 576, 30, 9, 3, 1536, 49152,
            8192, 100000.0f, 1e-5f, true),
      Shape("smollm2-360m", Architecture::kLlama, 960, 32, 15, 5, 2560, 49152,
            8192, 100000.0f, 1e-5f, true),
      Shape("qwen2.5-0.5b", Architecture::kQwen2, 896, 24, 14, 2, 4864, 151936,
            32768, 1000000.0f, 1e-6f, true),
      Shape("tinyllama-1.1b", Architecture::kLlama, 2048, 22, 32, 4, 5632,
            32000, 2048, 10000.0f, 1e-5f, false),
      Shape("llama-3.2-1b", Architecture::kLlama, 2048, 16, 32, 8, 8192,
            128256, 131072, 500000.0f, 1e-5f, true),
      Shape("qwen2.5-1.5b", Architecture::kQwen2, 1536, 28, 12, 2, 8960, 151936,
            32768, 1000000.0f, 1e-6f, true),
      Shape("llama-3.2-3b", Architecture::kLlama, 3072, 28, 24, 8, 8192,
            128256, 131072, 500000.0f, 1e-5f, true),
      Shape("llama-2-7b", Architecture::kLlama, 4096, 32, 32, 32, 11008, 32000,
            4096, 10000.0f, 1e-5f, false),
      Shape("llama-3-8b", Architecture::kLlama, 4096, 32, 32, 8, 14336, 128256,
            8192, 500000.0f, 1e-5f, false),
      Shape("llama-2-13b", Architecture::kLlama, 5120, 40, 40, 40, 13824,
            32000, 4096, 10000.0f, 1e-5f, false),
      Shape("llama-3-70b", Architecture::kLlama, 8192, 80, 64, 8, 28672,
            128256, 8192, 500000.0f, 1e-5f, false),
  };
  return *shapes;
}

absl::StatusOr<ModelShape> FindShape(absl::string_view name) {
  std::vector<std::string> names;
  for (const ModelShape& shape : KnownShapes()) {
    if (shape.name == name) return shape;
    names.push_back(shape.name);
  }
  return absl::NotFoundError(absl::StrCat("unknown model shape '", name,
                                          "'; known: ",
                                          absl::StrJoin(names, ", ")));
}

}  // namespace tessera::model
