#include "sim/plan_report.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "coordinator/stage_status_text.h"
#include "tessera/v1/coordinator.grpc.pb.h"
#include "worker/rpc_util.h"

namespace tessera::sim {
namespace {

std::string Layers(const v1::StageStatus& s) {
  std::vector<std::string> extras;
  if (s.has_embedding()) extras.push_back("+embedding");
  if (s.has_head()) extras.push_back("+head");
  std::string text =
      absl::StrCat("layers ", s.first_layer(), "-", s.end_layer() - 1);
  if (!extras.empty())
    absl::StrAppend(&text, " (", absl::StrJoin(extras, " "), ")");
  return text;
}

}  // namespace

absl::StatusOr<v1::ClusterStatusResponse> FetchClusterStatus(
    const std::string& address) {
  auto stub = v1::CoordinatorService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  auto context = worker::MakeContext("", absl::Seconds(10));
  v1::ClusterStatusResponse status;
  absl::Status rpc = worker::ToAbsl(
      stub->ClusterStatus(context.get(), v1::ClusterStatusRequest(), &status));
  if (!rpc.ok()) {
    return absl::Status(rpc.code(), absl::StrCat("cluster status from ",
                                                 address, ": ", rpc.message()));
  }
  return status;
}

std::string FormatPlan(const v1::ClusterStatusResponse& status,
                       const std::vector<std::string>& devices) {
  absl::flat_hash_set<std::string> used;
  for (const v1::StageStatus& s : status.stages()) used.insert(s.worker_name());
  std::vector<std::string> idle;
  for (const std::string& d : devices) {
    if (!used.contains(d)) idle.push_back(d);
  }
  std::string text = absl::StrFormat(
      "plan (planner: %s): %d stage%s on %d of %d devices\n", status.planner(),
      status.stages_size(), status.stages_size() == 1 ? "" : "s", used.size(),
      std::max(devices.size(), used.size()));
  for (int i = 0; i < status.stages_size(); ++i) {
    const v1::StageStatus& s = status.stages(i);
    absl::StrAppend(
        &text, absl::StrFormat("  stage %d  %-18s %-30s %-6s %s\n", i + 1,
                               s.worker_name(), Layers(s),
                               coordinator::StageFormatsText(s), s.address()));
  }
  if (!idle.empty()) {
    absl::StrAppend(&text, "  no layers: ", absl::StrJoin(idle, ", "), "\n");
  }
  return text;
}

}  // namespace tessera::sim
