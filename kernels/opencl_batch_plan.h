// Validation of a Batch against the Backend contract and its split into
// per-session runs (pure; used by the OpenCL backend before it touches any
// state, so that a rejected batch changes nothing).
//
// Thread-safety: pure function.
#ifndef TESSERA_KERNELS_OPENCL_BATCH_PLAN_H_
#define TESSERA_KERNELS_OPENCL_BATCH_PLAN_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace tessera::kernels {

// Contiguous rows of one session at consecutive positions.
struct SessionRun {
  uint64_t session_id = 0;
  int64_t row_begin = 0;
  int64_t rows = 0;
  int64_t pos0 = 0;  // position of the first row; 0 restarts the session
};

struct BatchLimits {
  int64_t dim = 0;             // hidden width (input rows without embedding)
  bool has_embedding = false;  // rows carry token ids instead of hidden
  int64_t vocab_size = 0;      // token ids must be < vocab_size
  int64_t max_tokens = 0;      // per-session context
};

// The runs of `batch` in row order. InvalidArgument for an empty batch, a
// hidden vector of the wrong size, a token outside the vocabulary, rows of a
// session that are not contiguous or not at consecutive positions, or a first
// position that is neither 0 nor the session's length (`length(session)`);
// OutOfRange when a position reaches max_tokens.
absl::StatusOr<std::vector<SessionRun>> PlanBatch(
    const Batch& batch, const BatchLimits& limits,
    const std::function<int64_t(uint64_t)>& length);

}  // namespace tessera::kernels

#endif  // TESSERA_KERNELS_OPENCL_BATCH_PLAN_H_
