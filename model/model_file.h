// ModelFile: everything a process needs from one GGUF model file: the
// validated mapping, the hyperparameters, the weight views and the
// tokenizer. The views point into `gguf`, which lives as long as the object.
#ifndef TESSERA_MODEL_MODEL_FILE_H_
#define TESSERA_MODEL_MODEL_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/gguf.h"
#include "model/model_config.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace tessera::model {

struct ModelFile {
  std::unique_ptr<GgufFile> gguf;
  ModelConfig config;
  ModelWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;

  // Opens and validates `path`; errors are prefixed with the path.
  static absl::StatusOr<std::unique_ptr<ModelFile>> Open(
      const std::string& path);
};

}  // namespace tessera::model

#endif  // TESSERA_MODEL_MODEL_FILE_H_
