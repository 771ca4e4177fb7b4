// Loading the device and cluster catalogue (configs/devices/*.textproto,
// tessera.v1.DeviceProfile; configs/clusters/*.textproto, tessera.v1.Cluster)
// for the simulator and the emulator: the planner's view of the cluster plus
// what only simulation uses (link jitter, hardware facts).
//
// Thread-safety: pure functions over plain data.
#ifndef TESSERA_SIM_CLUSTER_CONFIG_H_
#define TESSERA_SIM_CLUSTER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ggml_types.h"
#include "partitioner/cluster.h"
#include "tessera/v1/cluster.pb.h"

namespace tessera::sim {

// A network path as the simulator sees it (one direction).
struct SimLink {
  double latency_ms = 0;
  double bandwidth_bytes_per_s = 0;
  double jitter_ms = 0;  // standard deviation of the one-way latency
  bool usable = false;
};

struct SimCluster {
  std::string description;
  partitioner::Cluster cluster;  // validated (partitioner::ValidateCluster)
  v1::Cluster proto;             // as read, hardware facts included
  // links[from * n + to] for device indices; the diagonal is unusable.
  std::vector<SimLink> links;
  const SimLink& link(int from, int to) const {
    return links[from * cluster.devices.size() + to];
  }
};

// Parses a cluster textproto. InvalidArgument "PATH:LINE:COL: message" for
// text that does not parse (unknown fields included), "PATH: devices[1]..."
// for invalid values (partitioner::ValidateCluster, negative jitter);
// NotFound when the file cannot be read.
absl::StatusOr<SimCluster> LoadSimCluster(const std::string& path);

// The same from text already read (`where` names it in errors).
absl::StatusOr<SimCluster> ParseSimCluster(const std::string& text,
                                           const std::string& where);

// Parses a device textproto and checks it as a one-device cluster would be.
absl::StatusOr<v1::DeviceProfile> LoadDeviceFile(const std::string& path);

// Maps a tessera.v1.TensorFormat value to model::GgmlType. InvalidArgument
// naming `where` for values outside the enum.
absl::StatusOr<model::GgmlType> FormatFromProto(int value,
                                                const std::string& where);

// Converts one device (formats mapped to model::GgmlType). InvalidArgument
// for an unknown format or one listed twice.
absl::StatusOr<partitioner::DeviceProfile> DeviceFromProto(
    const v1::DeviceProfile& d, int index);

}  // namespace tessera::sim

#endif  // TESSERA_SIM_CLUSTER_CONFIG_H_
