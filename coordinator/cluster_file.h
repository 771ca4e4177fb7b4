// The devices of a cluster file (configs/clusters/*.textproto,
// tessera.v1.Cluster) as `tessera-coordinator --cluster` uses them: every
// device names the address of its tessera-worker; its memory budget, when
// given, caps what the planner may place there (the worker enforces its own
// budget as well); the file's links are what the planner uses with
// `--links declared` instead of measuring. Performance figures in the file
// are not used: the coordinator measures the workers.
//
// Thread-safety: pure functions over plain data.
#ifndef TESSERA_COORDINATOR_CLUSTER_FILE_H_
#define TESSERA_COORDINATOR_CLUSTER_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/cluster.h"

namespace tessera::coordinator {

struct ClusterMember {
  std::string name;                 // the device's name in the file
  std::string address;              // HOST:PORT of its worker
  int64_t memory_budget_bytes = 0;  // 0: the worker's own budget only
};

struct ClusterFile {
  std::string name;
  std::vector<ClusterMember> members;  // the file's order
  // Declared links between members, by name; both_directions expanded.
  std::vector<partitioner::LinkProfile> links;
  std::optional<partitioner::LinkProfile> default_link;
};

// Parses and validates. InvalidArgument naming the file and the field, e.g.
// "c.textproto: devices[1] (pixel-7).address: expected HOST:PORT, got
// 'pixel'" for: no devices, an empty or duplicate name, a missing,
// malformed or duplicate address, a negative budget, links naming unknown
// or identical devices, negative latency, bandwidth <= 0. NotFound when the
// file cannot be read.
absl::StatusOr<ClusterFile> LoadClusterFile(const std::string& path);
absl::StatusOr<ClusterFile> ParseClusterFile(const std::string& text,
                                             const std::string& where);

// Checks "HOST:PORT" (HOST a name, IPv4 or [IPv6]; PORT 1..65535).
absl::Status ValidateAddress(const std::string& address);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_CLUSTER_FILE_H_
