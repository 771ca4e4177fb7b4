// The planners the simulator compares, by name: "ours" (partitioner's
// SolvePlan), "even", "memory" (memory-proportional) and "uniform"
// (Tessera's search with one format everywhere), see partitioner/baselines.h;
// and the links a plan's pipeline uses.
//
// Thread-safety: pure functions.
#ifndef TESSERA_SIM_PLANNERS_H_
#define TESSERA_SIM_PLANNERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/order_search.h"
#include "partitioner/plan.h"
#include "partitioner/problem.h"
#include "sim/cluster_config.h"

namespace tessera::sim {

// The names accepted by PlanWith, in comparison order.
const std::vector<std::string>& PlannerNames();

// The plan of `planner` with its predictions evaluated on `problem`.
// InvalidArgument for an unknown name; the planner's own error otherwise.
absl::StatusOr<partitioner::Plan> PlanWith(const std::string& planner,
                                           const partitioner::Problem& problem,
                                           const partitioner::SearchOptions& options);

// links[i]: stage i -> stage i+1; the last entry: last stage -> first (the
// token return path; unused with one stage). REQUIRES: a valid pipeline.
std::vector<SimLink> PipelineLinks(const SimCluster& cluster,
                                   const std::vector<partitioner::Stage>& stages);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_PLANNERS_H_
