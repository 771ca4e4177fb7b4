// `tessera-sim des`: plans a model shape over a catalogue cluster with each
// planner, simulates every plan with the discrete-event simulator (des.h),
// prints the comparison table and the wall time, and writes an SVG chart.
#ifndef TESSERA_SIM_DES_COMMAND_H_
#define TESSERA_SIM_DES_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/problem.h"
#include "sim/cluster_config.h"

namespace tessera::sim {

// The planning problem for a known model shape on a cluster (quality from
// the Gaussian proxy, budget: every layer in `quality_format`).
absl::StatusOr<partitioner::Problem> ShapeProblem(
    const std::string& shape, const SimCluster& cluster,
    const partitioner::Workload& workload, partitioner::Objective objective,
    const std::string& quality_format);

// Exit code: 0 on success, 2 for bad flags, 1 for other errors.
int DesMain(const std::vector<std::string>& argv);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_DES_COMMAND_H_
