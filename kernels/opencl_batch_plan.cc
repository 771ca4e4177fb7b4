#include "kernels/opencl_batch_plan.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::kernels {
namespace {

absl::Status CheckInputs(const Batch& batch, const BatchLimits& limits) {
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  if (n == 0) return absl::InvalidArgumentError("empty batch");
  if (limits.has_embedding) {
    for (int64_t i = 0; i < n; ++i) {
      const int32_t token = batch.rows[i].token;
      if (token < 0 || token >= limits.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", i, ": token ", token,
                         " outside the vocabulary of ", limits.vocab_size));
      }
    }
  } else if (static_cast<int64_t>(batch.hidden.size()) != n * limits.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch hidden has ", batch.hidden.size(), " floats; ", n,
                     " rows of ", limits.dim, " need ", n * limits.dim));
  }
  return absl::OkStatus();
}

absl::Status CheckRun(const SessionRun& run, const BatchLimits& limits,
                      int64_t cached) {
  if (run.pos0 != 0 && run.pos0 != cached) {
    return absl::InvalidArgumentError(
        absl::StrCat("session ", run.session_id, ": position ", run.pos0,
                     " does not continue its cache of ", cached,
                     " tokens (nor restart at 0)"));
  }
  if (run.pos0 + run.rows > limits.max_tokens) {
    return absl::OutOfRangeError(absl::StrCat(
        "session ", run.session_id, ": position ", run.pos0 + run.rows - 1,
        " exceeds the context of ", limits.max_tokens, " tokens"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<SessionRun>> PlanBatch(
    const Batch& batch, const BatchLimits& limits,
    const std::function<int64_t(uint64_t)>& length) {
  TESSERA_RETURN_IF_ERROR(CheckInputs(batch, limits));
  std::vector<SessionRun> runs;
  absl::flat_hash_set<uint64_t> seen;
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  for (int64_t i = 0; i < n; ++i) {
    const BatchRow& row = batch.rows[i];
    if (!runs.empty() && runs.back().session_id == row.session_id) {
      SessionRun& run = runs.back();
      if (row.position != run.pos0 + run.rows) {
        return absl::InvalidArgumentError(
            absl::StrCat("row ", i, ": session ", row.session_id, " position ",
                         row.position, " should be ", run.pos0 + run.rows));
      }
      ++run.rows;
      continue;
    }
    if (!seen.insert(row.session_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, ": rows of session ", row.session_id,
                       " are not contiguous"));
    }
    if (row.position < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, ": negative position ", row.position));
    }
    runs.push_back({row.session_id, i, 1, row.position});
  }
  for (const SessionRun& run : runs) {
    TESSERA_RETURN_IF_ERROR(CheckRun(run, limits, length(run.session_id)));
  }
  return runs;
}

}  // namespace tessera::kernels
