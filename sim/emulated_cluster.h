// An emulated cluster (sim/emulation.h) running on this host: its network,
// one tessera-worker process per device and a tessera-coordinator
// (coordinator::LocalCluster), which plans from what the workers report:
// profiles scaled to the emulated devices, links measured through the
// emulated network.
//
// Two network modes:
//   loopback  every process on 127.0.0.1; each worker delays what it sends
//             (latency, jitter and bandwidth) in-process.
//   netns     one network namespace per worker behind a bridge (sim/netns.h);
//             bandwidth shaped by tc in the kernel, latency and jitter by tc
//             netem when the kernel has it, else in-process.
//
// Destruction stops the processes, then removes the network.
// Thread-compatible. REQUIRES: at most one netns-mode cluster per process
// at a time (names derive from the pid).
#ifndef TESSERA_SIM_EMULATED_CLUSTER_H_
#define TESSERA_SIM_EMULATED_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/local_cluster.h"
#include "sim/cluster_config.h"
#include "sim/command_runner.h"
#include "sim/emulation.h"
#include "sim/netns.h"
#include "sim/sim_state.h"

namespace tessera::sim {

enum class NetworkMode { kLoopback, kNetns };

struct NetworkChoice {
  NetworkMode mode = NetworkMode::kLoopback;
  std::string fallback_reason;  // why "auto" did not pick netns
};

// Resolves --network: "loopback"; "netns" (FailedPrecondition with the
// reason when namespaces cannot be used here); "auto": netns when
// CheckNetnsUsable passes, else loopback. InvalidArgument otherwise.
absl::StatusOr<NetworkChoice> ChooseNetworkMode(const std::string& requested,
                                                const CommandRunner& run);

struct EmulatedClusterOptions {
  SimCluster cluster;
  std::string bin_dir;     // with tessera-worker and tessera-coordinator
  std::string work_dir;    // logs, port files, profile caches
  std::string model_path;  // absolute; its directory is the model dir
  std::string backend = "cpu";
  std::string planner = "partitioner";  // the coordinator's --planner
  NetworkMode network = NetworkMode::kLoopback;
  double host_bytes_per_s = 0;  // 0: MeasureHostBytesPerSecond()
  CommandRunner run = RunCommand;
  absl::Duration start_timeout = absl::Seconds(120);
};

class EmulatedCluster {
 public:
  // Plans the emulation, sets up the network and starts the processes.
  // Errors name the step (a failing `ip`/`tc` command with its stderr, a
  // process's log tail); whatever was set up is removed again.
  static absl::StatusOr<std::unique_ptr<EmulatedCluster>> Start(
      const EmulatedClusterOptions& options);
  ~EmulatedCluster();

  // E.g. "network namespaces (bandwidth: tc tbf; latency/jitter:
  // in-process, netem unavailable)".
  const std::string& mode() const { return mode_; }
  double host_bytes_per_s() const { return host_bytes_per_s_; }
  const std::vector<WorkerEmulation>& workers() const { return workers_; }
  // Device names in cluster order (the workers' names).
  std::vector<std::string> device_names() const;
  coordinator::LocalCluster& processes() { return *processes_; }
  // Namespace layout; null in loopback mode.
  const NetnsLayout* netns_layout() const {
    return network_ ? &network_->layout() : nullptr;
  }

  // Leaves the processes and the network running; returns what
  // `tessera-sim down` needs to remove them.
  SimState Detach();

 private:
  EmulatedCluster() = default;
  absl::Status StartNetns(const EmulatedClusterOptions& o,
                          coordinator::LocalClusterOptions& lo);

  std::string mode_;
  double host_bytes_per_s_ = 0;
  std::vector<WorkerEmulation> workers_;
  std::unique_ptr<NetnsNetwork> network_;  // outlives processes_
  std::unique_ptr<coordinator::LocalCluster> processes_;
};

}  // namespace tessera::sim

#endif  // TESSERA_SIM_EMULATED_CLUSTER_H_
