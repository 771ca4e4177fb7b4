#include "partitioner/planner.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "partitioner/baselines.h"
#include "partitioner/diagnose.h"
#include "partitioner/lagrangian_search.h"
#include "partitioner/lower_bound.h"

namespace tessera::partitioner {
namespace {

struct Candidate {
  bool found = false;
  double objective = std::numeric_limits<double>::infinity();
  std::vector<Stage> stages;
  std::string method;
};

// The cheap split baselines seed the search with a plan to beat.
Candidate Seed(const Problem& p, const CostGrid& g) {
  Candidate best;
  for (auto plan : {EvenSplitBaseline(p, g), MemoryProportionalBaseline(p, g)}) {
    if (!plan.ok() || !plan->predictions.fits) continue;
    if (plan->predictions.objective < best.objective) {
      best = {true, plan->predictions.objective, plan->stages, plan->method};
    }
  }
  return best;
}

void Take(const Candidate& c, Candidate& best) {
  if (c.found && c.objective < best.objective) best = c;
}

}  // namespace

absl::StatusOr<Plan> SolvePlan(const Problem& problem,
                               const SearchOptions& options) {
  TESSERA_RETURN_IF_ERROR(ValidateProblem(problem));
  const CostGrid grid = CostGrid::Build(problem);
  const bool small = grid.num_devices() <= options.max_exact_devices;
  Candidate best = Seed(problem, grid);
  Plan plan;
  double dual_bound = -std::numeric_limits<double>::infinity();
  if (std::isfinite(problem.quality_budget)) {
    LagrangianResult lag = LagrangianSearch(problem, grid, options);
    std::string method = small ? "exhaustive order search" : "heuristic order search";
    if (lag.lambda > 0) method += ", formats priced by a Lagrange multiplier";
    Take({lag.found, lag.objective, lag.stages, method}, best);
    plan.orders_evaluated += lag.sequences;
    plan.labels_trimmed = lag.trimmed;
    dual_bound = lag.dual_bound;
  }
  const bool closed = best.found && dual_bound >= best.objective * (1 - 1e-12);
  if (small && !closed) {
    SearchResult r = ExhaustiveSearch(problem, grid, options, best.objective);
    Take({r.found, r.objective, r.stages, "exhaustive order search"}, best);
    plan.optimal = r.complete && !r.trimmed;
    plan.labels_trimmed = plan.labels_trimmed || r.trimmed;
    plan.orders_evaluated += r.sequences;
  } else if (!small && !std::isfinite(problem.quality_budget)) {
    SearchResult r = HeuristicSearch(problem, grid, options, best.objective);
    Take({r.found, r.objective, r.stages, "heuristic order search"}, best);
    plan.labels_trimmed = plan.labels_trimmed || r.trimmed;
    plan.orders_evaluated += r.sequences;
  }
  if (!best.found) return DiagnoseNoPlan(problem, grid, options);
  plan.method = best.method;
  plan.stages = best.stages;
  MarkEnds(plan.stages);
  TESSERA_ASSIGN_OR_RETURN(plan.predictions,
                           Evaluate(problem, grid, plan.stages));
  const double objective = plan.predictions.objective;
  plan.optimal = plan.optimal || closed;
  plan.lower_bound =
      plan.optimal ? objective
                   : std::min(objective, std::max(dual_bound,
                                                  ObjectiveLowerBound(problem, grid)));
  return plan;
}

absl::StatusOr<PlanReport> PlanWithBaselines(const Problem& problem,
                                             const SearchOptions& options) {
  PlanReport report;
  TESSERA_ASSIGN_OR_RETURN(report.plan, SolvePlan(problem, options));
  const CostGrid grid = CostGrid::Build(problem);
  for (auto plan : {EvenSplitBaseline(problem, grid),
                    MemoryProportionalBaseline(problem, grid),
                    UniformFormatBaseline(problem, options)}) {
    if (!plan.ok()) continue;
    auto predictions = Evaluate(problem, grid, plan->stages);
    if (!predictions.ok()) continue;
    plan->predictions = *predictions;
    report.baselines.push_back(*std::move(plan));
  }
  return report;
}

}  // namespace tessera::partitioner
