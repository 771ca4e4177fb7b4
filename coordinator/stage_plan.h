// The coordinator's view of a plan: which worker runs which layers in which
// formats. Produced by a planner behind PlanStages(); today that is the even
// split (the fallback of the issue), isolated here so that the partitioner
// library (partitioner/planner.h, SolvePlan over profiles and links) can be
// slotted in without touching the rest of the coordinator. Pure functions.
#ifndef TESSERA_COORDINATOR_STAGE_PLAN_H_
#define TESSERA_COORDINATOR_STAGE_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ggml_types.h"

namespace tessera::coordinator {

struct StageAssignment {
  int worker = 0;           // index into the worker list
  int64_t first_layer = 0;  // [first_layer, end_layer)
  int64_t end_layer = 0;
  std::vector<model::GgmlType> formats;  // one per layer
  bool has_embedding = false;
  bool has_head = false;
};

struct StagePlan {
  std::string planner;  // "even split", ...
  std::vector<StageAssignment> stages;  // pipeline order
};

// Splits `n_layers` over `n_workers` in order, the first n_layers % n_workers
// stages taking one layer more; every layer in `format`. InvalidArgument
// when there are no workers or more workers than layers.
absl::StatusOr<StagePlan> PlanEvenSplit(int64_t n_layers, int n_workers,
                                        model::GgmlType format);

// The format of the output head on the last stage, given the format of that
// stage's layers: F32 and F16 stay, quantised layers get a Q8_0 head (the
// head is the most sensitive matrix, and an F32 copy of it would dominate
// the last stage's time: 262 MB per token for a 32000 x 2048 head).
model::GgmlType HeadFormatFor(model::GgmlType layer_format);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_STAGE_PLAN_H_
