// The planner: for a Problem (model costs, cluster, workload, quality table,
// objective, quality budget) finds which devices take part, in what order,
// which contiguous layers each runs and in which format each layer runs, and
// predicts the result (see problem.h for the time model).
//
// Method: clusters of at most SearchOptions::max_exact_devices devices are
// searched exhaustively over device sequences with the exact StageDp; the
// result is proven optimal unless the sequence budget ran out or a DP state
// was trimmed (Plan::optimal says which). Larger clusters use the heuristic
// order search, and the plan reports a lower bound on the optimum.
//
// Thread-safety: pure functions.
#ifndef TESSERA_PARTITIONER_PLANNER_H_
#define TESSERA_PARTITIONER_PLANNER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/order_search.h"
#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

// Errors: InvalidArgument from ValidateProblem (naming the field);
// ResourceExhausted when the model fits nowhere, saying how many bytes are
// missing and what would make it fit (more memory, a smaller KV cache, a
// looser quality budget, smaller formats); FailedPrecondition when memory
// would suffice but no pipeline can be formed (missing links, a stage's
// fixed needs larger than every device).
absl::StatusOr<Plan> SolvePlan(const Problem& problem,
                               const SearchOptions& options = {});

struct PlanReport {
  Plan plan;
  std::vector<Plan> baselines;  // even, memory-proportional, uniform format
};

// SolvePlan plus the baselines of baselines.h, all evaluated on `problem`.
// Baselines that cannot be formed at all are left out.
absl::StatusOr<PlanReport> PlanWithBaselines(const Problem& problem,
                                             const SearchOptions& options = {});

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_PLANNER_H_
