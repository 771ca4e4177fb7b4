// Synthetic models: random weights with the exact tensor shapes of a real
// model (model_shapes.h) and the tokenizer of a vocabulary-only GGUF file.
// Used for benchmarks and tests; loads in any GGUF tool.
#ifndef TESSERA_MODEL_MAKE_MODEL_H_
#define TESSERA_MODEL_MAKE_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/ggml_types.h"
#include "model/gguf.h"
#include "model/model_shapes.h"

namespace tessera::model {

struct MakeModelOptions {
  GgmlType type = GgmlType::kF32;  // matrices; norms and biases stay F32
  uint64_t seed = 0;
  // Overrides of the shape (0 = keep): handy for small test models.
  int64_t n_layers = 0;
  int64_t context_length = 0;
};

// Writes a GGUF v3 model to `path`: architecture metadata from `shape`,
// every `tokenizer.*` key of `vocab`, weights ~ N(0, 0.02) from a portable
// generator seeded with `seed`, norm weights 1. The vocabulary size is the
// vocab file's token count. Matrices whose rows do not fit `type`'s block
// size are written as F16. InvalidArgument for a vocab without tokens or a
// type that cannot be written; errors of the file system otherwise.
absl::Status MakeModel(const ModelShape& shape, const GgufFile& vocab,
                       const MakeModelOptions& options,
                       const std::string& path);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_MAKE_MODEL_H_
