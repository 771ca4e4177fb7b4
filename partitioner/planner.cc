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

// The devices of `stages`, in pipeline order.
std::vector<int> OrderOf(const std::vector<Stage>& stages) {
  std::vector<int> order;
  for (const Stage& s : stages) order.push_back(s.device);
  return order;
}

// Labels per state for the refinement: a DP of about
// positions x layers x formats x labels^2 comparisons within the budget.
size_t RefineLabels(const SearchOptions& o, const CostGrid& g, size_t positions) {
  const double cells = static_cast<double>(positions) * g.num_layers() * g.num_formats();
  const double labels = std::sqrt(static_cast<double>(o.refine_work) / cells);
  return static_cast<size_t>(std::clamp(labels, 16.0, 1024.0));
}

struct Outcome {
  Candidate best;
  bool optimal = false;
  bool trimmed = false;
  int64_t sequences = 0;
  double dual_bound = -std::numeric_limits<double>::infinity();
};

// Lagrangian formats when the quality budget can bind; then, for small
// clusters, the exact search (unless duality already proved the optimum);
// for large ones without a quality budget, the heuristic order search.
Outcome Search(const Problem& problem, const CostGrid& grid,
               const SearchOptions& options) {
  const bool small = grid.num_devices() <= options.max_exact_devices;
  Outcome out;
  out.best = Seed(problem, grid);
  if (std::isfinite(problem.quality_budget)) {
    LagrangianResult lag = LagrangianSearch(problem, grid, options);
    std::string method = small ? "exhaustive search" : "heuristic search";
    if (lag.lambda > 0) method += ", Lagrangian formats";
    Take({lag.found, lag.objective, lag.stages, method}, out.best);
    out.sequences += lag.sequences;
    out.trimmed = lag.trimmed;
    out.dual_bound = lag.dual_bound;
  }
  out.optimal = out.best.found && out.dual_bound >= out.best.objective * (1 - 1e-12);
  SearchResult r;
  if (small && !out.optimal) {
    r = ExhaustiveSearch(problem, grid, options, out.best.objective);
    Take({r.found, r.objective, r.stages, "exhaustive search"}, out.best);
    out.optimal = r.complete && !r.trimmed;
  } else if (!small && !std::isfinite(problem.quality_budget)) {
    r = HeuristicSearch(problem, grid, options, out.best.objective);
    Take({r.found, r.objective, r.stages, "heuristic search"}, out.best);
  } else if (!small && out.best.found) {
    // The Lagrangian plan may leave quality budget unused: the exact DP
    // over its devices (any subsequence, new boundaries and formats) spends
    // it.
    const std::vector<int> order = OrderOf(out.best.stages);
    r = SolveOrder(problem, grid, order, RefineLabels(options, grid, order.size()),
                   out.best.objective);
    Take({r.found, r.objective, r.stages, "heuristic search, exact formats"}, out.best);
  }
  out.trimmed = out.trimmed || r.trimmed;
  out.sequences += r.sequences;
  return out;
}

}  // namespace

absl::StatusOr<Plan> SolvePlan(const Problem& problem,
                               const SearchOptions& options) {
  TESSERA_RETURN_IF_ERROR(ValidateProblem(problem));
  const CostGrid grid = CostGrid::Build(problem);
  Outcome out = Search(problem, grid, options);
  if (!out.best.found) return DiagnoseNoPlan(problem, grid, options);
  Plan plan;
  plan.method = out.best.method;
  plan.stages = out.best.stages;
  MarkEnds(plan.stages);
  TESSERA_ASSIGN_OR_RETURN(plan.predictions,
                           Evaluate(problem, grid, plan.stages));
  const double objective = plan.predictions.objective;
  plan.optimal = out.optimal;
  plan.labels_trimmed = out.trimmed && !out.optimal;  // matters only then
  plan.orders_evaluated = out.sequences;
  plan.lower_bound =
      plan.optimal ? objective
                   : std::min(objective, std::max(out.dual_bound,
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
