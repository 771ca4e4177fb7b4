// SyntheticModel: random model weights generated in memory, directly in an
// execution format, with the exact tensor shapes of a ModelConfig. For
// benchmarks (`tessera bench` runs the tinyllama-1.1b shape without a file)
// and tests (small configurations of every architecture feature).
//
// Values are approximately N(0, stddev): each is the centred sum of four
// uniform 16-bit draws (Irwin-Hall), scaled; norm weights are 1 + small
// noise, biases ~N(0, stddev). Generation is deterministic in `seed` and
// independent of the thread count. Matrices whose rows do not fit the
// format's blocks are stored in F16.
//
// Thread-safety: the result is immutable; share it freely.
#ifndef TESSERA_KERNELS_SYNTHETIC_WEIGHTS_H_
#define TESSERA_KERNELS_SYNTHETIC_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/large_pages.h"
#include "model/ggml_types.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace tessera::kernels {

class ThreadPool;

struct SyntheticOptions {
  model::GgmlType matrix_type = model::GgmlType::kF32;  // execution format
  // Format of token_embd and output (F32 when kF32... any execution format).
  model::GgmlType embedding_type = model::GgmlType::kF32;
  float stddev = 0.02f;
  uint64_t seed = 1;
};

struct SyntheticModel {
  model::ModelWeights weights;  // views point into `storage`
  std::vector<LargePageBuffer> storage;
  int64_t bytes = 0;  // all tensor bytes
};

// InvalidArgument for an inconsistent config or a type that cannot be
// written. `pool` (may be null) parallelises generation.
absl::StatusOr<std::unique_ptr<SyntheticModel>> MakeSyntheticModel(
    const model::ModelConfig& config, const SyntheticOptions& options,
    ThreadPool* pool);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_SYNTHETIC_WEIGHTS_H_
