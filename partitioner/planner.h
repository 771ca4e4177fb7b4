// The planner: for a Problem (model costs, cluster, workload, quality table,
// objective, quality budget) finds which devices take part, in what order,
// which contiguous layers each runs and in which format each layer runs, and
// predicts the result (see problem.h for the time model).
//
// Method (details in the headers named):
//  1. The even and memory-proportional splits (baselines.h) seed the search.
//  2. With a quality budget: Lagrangian pricing of formats, multiplier
//     bisected until the plan meets the budget (lagrangian_search.h); every
//     order for small clusters, which also gives a dual lower bound.
//  3. Clusters of at most SearchOptions::max_exact_devices devices: the
//     exhaustive search over device sequences with the exact StageDp
//     (order_search.h, stage_dp.h), pruned by the best plan so far; the plan
//     is proven optimal unless a work budget ran out or a state was trimmed
//     (Plan::optimal says which). Larger clusters: the heuristic order search
//     (or the Lagrangian one), then an exact-formats pass over the chosen
//     devices; the plan reports a lower bound (lower_bound.h) and its gap.
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
