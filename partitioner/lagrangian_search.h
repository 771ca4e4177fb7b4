// LagrangianSearch: plans under a quality budget by Lagrangian relaxation,
// fast enough for large clusters (internal to the planner).
//
// The StageDp runs in Lagrangian mode with multiplier lambda (quality cost
// priced into the objective, labels without a quality coordinate). lambda =
// 0 gives the best plan ignoring quality; if it violates the budget, lambda is
// raised geometrically until the plan meets it, then bisected (12 steps)
// towards the smallest such lambda. Every plan met on the way is evaluated
// with the true objective and the best one within all budgets is kept.
//
// Small clusters search every device order at each lambda; large ones run the
// heuristic order search at lambda = 0 and at the final lambda, and
// SolveOrder on the best order found so far in between.
//
// Thread-safety: pure function.
#ifndef TESSERA_PARTITIONER_LAGRANGIAN_SEARCH_H_
#define TESSERA_PARTITIONER_LAGRANGIAN_SEARCH_H_

#include <limits>
#include <string>
#include <vector>

#include "partitioner/order_search.h"
#include "partitioner/plan.h"
#include "partitioner/problem.h"

namespace tessera::partitioner {

struct LagrangianResult {
  bool found = false;
  double objective = std::numeric_limits<double>::infinity();  // true value
  std::vector<Stage> stages;
  double lambda = 0;  // the multiplier that produced `stages`
  int64_t sequences = 0;
  bool trimmed = false;
  // A valid lower bound on the optimum from weak duality (every order
  // searched exactly; the penalty is exactly lambda * quality, see
  // stage_dp.h), else -infinity.
  double dual_bound = -std::numeric_limits<double>::infinity();
};

// REQUIRES: ValidateProblem(problem).ok(), grid built from it.
LagrangianResult LagrangianSearch(const Problem& problem, const CostGrid& grid,
                                  const SearchOptions& options);

}  // namespace tessera::partitioner

#endif  // TESSERA_PARTITIONER_LAGRANGIAN_SEARCH_H_
