#include "sim/emulated_cluster.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::sim {

absl::StatusOr<NetworkChoice> ChooseNetworkMode(const std::string& requested,
                                                const CommandRunner& run) {
  if (requested == "loopback") return NetworkChoice{NetworkMode::kLoopback, ""};
  if (requested != "netns" && requested != "auto") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--network must be auto, netns or loopback, not '", requested, "'"));
  }
  absl::Status usable = CheckNetnsUsable(run);
  if (usable.ok()) return NetworkChoice{NetworkMode::kNetns, ""};
  if (requested == "netns") {
    return absl::FailedPreconditionError(absl::StrCat(
        "--network netns: network namespaces unusable: ", usable.message()));
  }
  return NetworkChoice{NetworkMode::kLoopback, std::string(usable.message())};
}

absl::StatusOr<std::unique_ptr<EmulatedCluster>> EmulatedCluster::Start(
    const EmulatedClusterOptions& o) {
  std::unique_ptr<EmulatedCluster> c(new EmulatedCluster());
  c->host_bytes_per_s_ =
      o.host_bytes_per_s > 0 ? o.host_bytes_per_s : MeasureHostBytesPerSecond();
  TESSERA_ASSIGN_OR_RETURN(c->workers_,
                           PlanEmulation(o.cluster, c->host_bytes_per_s_));
  coordinator::LocalClusterOptions lo;
  lo.bin_dir = o.bin_dir;
  lo.work_dir = o.work_dir;
  lo.model_path = o.model_path;
  lo.model_dir = std::filesystem::path(o.model_path).parent_path().string();
  lo.workers = static_cast<int>(c->workers_.size());
  lo.backend = o.backend;
  lo.planner = o.planner;
  lo.start_timeout = o.start_timeout;
  lo.worker_names = c->device_names();
  if (o.network == NetworkMode::kNetns) {
    TESSERA_RETURN_IF_ERROR(c->StartNetns(o, lo));
  } else {
    c->mode_ = "loopback emulation (latency/jitter/bandwidth: in-process)";
    for (const WorkerEmulation& w : c->workers_) {
      lo.per_worker_flags.push_back(w.Flags(InProcessLink::kAll));
    }
  }
  TESSERA_ASSIGN_OR_RETURN(c->processes_, coordinator::LocalCluster::Start(lo));
  return c;
}

absl::Status EmulatedCluster::StartNetns(const EmulatedClusterOptions& o,
                                         coordinator::LocalClusterOptions& lo) {
  TESSERA_ASSIGN_OR_RETURN(network_,
                           NetnsNetwork::Create(getpid(), lo.workers, o.run));
  const bool netem = network_->NetemAvailable();
  mode_ = netem ? "network namespaces (bandwidth, latency/jitter: tc netem)"
                : "network namespaces (bandwidth: tc tbf; latency/jitter: "
                  "in-process, netem unavailable)";
  for (int i = 0; i < lo.workers; ++i) {
    const WorkerEmulation& w = workers_[i];
    if (!w.link.empty()) {
      const EgressShape shape{w.egress.latency_ms, w.egress.jitter_ms,
                              w.egress.bandwidth_bytes_per_s};
      TESSERA_RETURN_IF_ERROR_CTX(
          network_->ShapeEgress(i, shape, netem),
          absl::StrCat("shaping ", w.device, "'s link"));
    }
    lo.per_worker_flags.push_back(
        w.Flags(netem ? InProcessLink::kNone : InProcessLink::kLatencyOnly));
    lo.worker_command_prefixes.push_back(network_->ExecPrefix(i));
    lo.worker_listen_hosts.push_back(network_->layout().workers[i].address);
  }
  return absl::OkStatus();
}

EmulatedCluster::~EmulatedCluster() {
  processes_.reset();  // the processes first: they use the network
  network_.reset();
}

std::vector<std::string> EmulatedCluster::device_names() const {
  std::vector<std::string> names;
  for (const WorkerEmulation& w : workers_) names.push_back(w.device);
  return names;
}

SimState EmulatedCluster::Detach() {
  SimState state;
  state.coordinator_address = processes_->coordinator_address();
  state.pids = processes_->Detach();
  if (network_ != nullptr) state.network = network_->Release();
  return state;
}

}  // namespace tessera::sim
