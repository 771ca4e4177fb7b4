// The catalogue of real model shapes: the exact tensor shapes of published
// models, used by `tessera make-model` (random-weight benchmark models), the
// partitioner's cost model and the simulator.
#ifndef TESSERA_MODEL_MODEL_SHAPES_H_
#define TESSERA_MODEL_MODEL_SHAPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/model_config.h"

namespace tessera::model {

struct ModelShape {
  std::string name;  // "tinyllama-1.1b"
  ModelConfig config;  // vocab_size is the published model's vocabulary
};

// All known shapes, in a stable order. Thread-safe.
const std::vector<ModelShape>& KnownShapes();

// The shape called `name`; NotFound listing the known names otherwise.
absl::StatusOr<ModelShape> FindShape(absl::string_view name);

}  // namespace tessera::model

#endif  // TESSERA_MODEL_MODEL_SHAPES_H_
