// The plan an emulated cluster's coordinator chose, read back over its
// public service (CoordinatorService.ClusterStatus) and printed by
// `tessera-sim up|run`: which devices run which layers, and which devices
// got none (an optimal planner may keep a tiny model on one device when
// the links cost more than the compute they would share).
//
// Thread-safety: FetchClusterStatus blocks; FormatPlan is pure.
#ifndef TESSERA_SIM_PLAN_REPORT_H_
#define TESSERA_SIM_PLAN_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tessera/v1/coordinator.pb.h"

namespace tessera::sim {

// ClusterStatus of the coordinator at `address` (insecure channel, no
// token, 10 s deadline). The RPC's error, naming the address, otherwise.
absl::StatusOr<v1::ClusterStatusResponse> FetchClusterStatus(
    const std::string& address);

// Lines like
//   plan (planner: partitioner): 2 stages on 2 of 4 devices
//     stage 1  jetson-orin-nano  layers 0-2 (+embedding)  f32  10.64.3.10:4000
//     stage 2  n100-minipc       layers 3-4 (+head)       f32  10.64.3.11:4001
//     no layers: pixel-7, galaxy-a14
// `devices` are the emulated devices by worker name, in cluster order.
std::string FormatPlan(const v1::ClusterStatusResponse& status,
                       const std::vector<std::string>& devices);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_PLAN_REPORT_H_
