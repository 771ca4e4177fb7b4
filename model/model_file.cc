#include "model/model_file.h"

#include "common/status_macros.h"

namespace tessera::model {

absl::StatusOr<std::unique_ptr<ModelFile>> ModelFile::Open(
    const std::string& path) {
  auto model = std::make_unique<ModelFile>();
  absl::StatusOr<std::unique_ptr<GgufFile>> gguf = GgufFile::Open(path);
  if (!gguf.ok()) return gguf.status();
  model->gguf = std::move(*gguf);
  absl::StatusOr<ModelConfig> config = ConfigFromGguf(*model->gguf);
  if (!config.ok()) return Annotate(config.status(), path);
  model->config = *config;
  absl::StatusOr<ModelWeights> weights =
      LoadWeights(*model->gguf, model->config);
  if (!weights.ok()) return Annotate(weights.status(), path);
  model->weights = std::move(*weights);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::FromGguf(*model->gguf);
  if (!tokenizer.ok()) return Annotate(tokenizer.status(), path);
  // Embedding tables may be padded past the vocabulary, never shorter.
  if ((*tokenizer)->vocab_size() > model->config.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the tokenizer has ", (*tokenizer)->vocab_size(),
        " tokens but token_embd.weight only ", model->config.vocab_size,
        " rows"));
  }
  model->tokenizer = std::move(*tokenizer);
  return model;
}

}  // namespace tessera::model
