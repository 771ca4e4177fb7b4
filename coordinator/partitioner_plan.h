// Planning with the partitioner library: converts what the coordinator
// measured (worker profiles, the links between workers) into a
// partitioner::Problem, solves it with every layer in one requested format,
// and converts the plan back into a StagePlan. The partitioner may use fewer
// workers than offered when that is predicted to be faster.
#ifndef TESSERA_COORDINATOR_PARTITIONER_PLAN_H_
#define TESSERA_COORDINATOR_PARTITIONER_PLAN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/stage_plan.h"
#include "model/model_config.h"
#include "partitioner/cluster.h"
#include "tessera/v1/worker.pb.h"
#include "worker/activation_codec.h"

namespace tessera::coordinator {

struct MeasuredCluster {
  std::vector<v1::ProfileResponse> profiles;  // one per worker, list order
  // The planner's name of each worker (unique); its reported name if empty.
  std::vector<std::string> names;
  // Links by planner name; pairs without one use `default_link`, and cannot
  // be chained when that is absent.
  std::vector<partitioner::LinkProfile> links;
  std::optional<partitioner::LinkProfile> default_link;
};

// Errors of the partitioner (InvalidArgument, ResourceExhausted, ...) pass
// through with context.
absl::StatusOr<StagePlan> PlanWithPartitioner(const model::ModelConfig& config,
                                              const MeasuredCluster& measured,
                                              model::GgmlType format,
                                              worker::Codec codec);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_PARTITIONER_PLAN_H_
