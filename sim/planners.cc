#include "sim/planners.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "partitioner/baselines.h"
#include "partitioner/planner.h"

namespace tessera::sim {

namespace pt = ::tessera::partitioner;

const std::vector<std::string>& PlannerNames() {
  static const auto* names =
      new std::vector<std::string>{"ours", "even", "memory", "uniform"};
  return *names;
}

absl::StatusOr<pt::Plan> PlanWith(const std::string& planner,
                                  const pt::Problem& problem,
                                  const pt::SearchOptions& options) {
  TESSERA_RETURN_IF_ERROR(pt::ValidateProblem(problem));
  const pt::CostGrid grid = pt::CostGrid::Build(problem);
  absl::StatusOr<pt::Plan> plan;
  if (planner == "ours") {
    plan = pt::SolvePlan(problem, options);
  } else if (planner == "even") {
    plan = pt::EvenSplitBaseline(problem, grid);
  } else if (planner == "memory") {
    plan = pt::MemoryProportionalBaseline(problem, grid);
  } else if (planner == "uniform") {
    plan = pt::UniformFormatBaseline(problem, options);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown planner '", planner, "'; known: ", absl::StrJoin(PlannerNames(), ", ")));
  }
  if (!plan.ok()) return Annotate(plan.status(), absl::StrCat("planner ", planner));
  TESSERA_ASSIGN_OR_RETURN(plan->predictions, pt::Evaluate(problem, grid, plan->stages));
  return plan;
}

std::vector<SimLink> PipelineLinks(const SimCluster& cluster,
                                   const std::vector<pt::Stage>& stages) {
  std::vector<SimLink> links;
  const size_t n = stages.size();
  for (size_t i = 0; i < n; ++i) {
    const int from = stages[i].device, to = stages[(i + 1) % n].device;
    links.push_back(from == to ? SimLink{0, 1, 0, false} : cluster.link(from, to));
  }
  return links;
}

}  // namespace tessera::sim
