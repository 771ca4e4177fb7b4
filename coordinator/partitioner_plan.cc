#include "coordinator/partitioner_plan.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "partitioner/planner.h"

namespace tessera::coordinator {
namespace {

namespace pt = ::tessera::partitioner;

pt::DeviceProfile ToDevice(const v1::ProfileResponse& profile,
                           const std::string& name) {
  pt::DeviceProfile device;
  device.name = name.empty() ? profile.worker_name() : name;
  if (profile.backends_size() > 0) device.backend = profile.backends(0).name();
  device.memory_budget_bytes = profile.memory_budget_bytes();
  device.step_overhead_ms = 0.05;  // a gRPC hop's bookkeeping on loopback
  for (const v1::FormatBenchmark& b : profile.benchmarks()) {
    if (b.decode_bytes_per_second() <= 0 || b.prefill_flops() <= 0) continue;
    device.perf[static_cast<model::GgmlType>(b.format())] = {
        b.decode_bytes_per_second(), b.prefill_flops()};
  }
  return device;
}

pt::ActivationCodec ToCodec(worker::Codec codec) {
  switch (codec) {
    case worker::Codec::kF16: return pt::ActivationCodec::kF16;
    case worker::Codec::kQ8_0: return pt::ActivationCodec::kQ8_0;
    default: return pt::ActivationCodec::kF32;
  }
}

// Bytes per cached K or V value: the widest KV cache of the workers
// (--kv-type), so that no stage is planned with less KV memory than it uses.
int64_t KvBytesPerValue(const MeasuredCluster& measured) {
  int64_t bytes = 2;
  for (const v1::ProfileResponse& p : measured.profiles) {
    if (p.kv_format() != v1::TENSOR_FORMAT_F16) bytes = 4;
  }
  return bytes;
}

absl::StatusOr<pt::Problem> BuildProblem(const model::ModelConfig& config,
                                         const MeasuredCluster& measured,
                                         model::GgmlType format,
                                         worker::Codec codec) {
  pt::CostOptions cost_options;
  cost_options.formats = {format};
  cost_options.embedding_format = model::GgmlType::kF32;
  cost_options.head_format = HeadFormatFor(format);
  cost_options.kv_bytes_per_value = KvBytesPerValue(measured);
  pt::Problem problem;
  TESSERA_ASSIGN_OR_RETURN(problem.costs,
                           pt::BuildCostTable(config, cost_options));
  for (size_t i = 0; i < measured.profiles.size(); ++i) {
    problem.cluster.devices.push_back(ToDevice(
        measured.profiles[i], i < measured.names.size() ? measured.names[i] : ""));
  }
  problem.cluster.links = measured.links;
  problem.cluster.default_link = measured.default_link;
  problem.workload.prompt_tokens = 64;
  problem.workload.gen_tokens = 100;
  problem.workload.codec = ToCodec(codec);
  TESSERA_ASSIGN_OR_RETURN(
      problem.quality,
      pt::GaussianProxy(config, problem.costs, model::GgmlType::kF16));
  return problem;
}

}  // namespace

absl::StatusOr<StagePlan> PlanWithPartitioner(const model::ModelConfig& config,
                                              const MeasuredCluster& measured,
                                              model::GgmlType format,
                                              worker::Codec codec) {
  TESSERA_ASSIGN_OR_RETURN(pt::Problem problem,
                           BuildProblem(config, measured, format, codec));
  absl::StatusOr<pt::Plan> solved = pt::SolvePlan(problem);
  if (!solved.ok()) return Annotate(solved.status(), "partitioner");
  StagePlan plan;
  plan.planner = absl::StrCat("partitioner (", solved->method, ")");
  for (const pt::Stage& s : solved->stages) {
    StageAssignment a;
    a.worker = s.device;
    a.first_layer = s.first_layer;
    a.end_layer = s.end_layer;
    a.formats = s.formats;
    a.has_embedding = s.holds_embedding;
    a.has_head = s.holds_head;
    plan.stages.push_back(std::move(a));
  }
  if (plan.stages.empty()) {
    return absl::InternalError("partitioner returned an empty plan");
  }
  return plan;
}

}  // namespace tessera::coordinator
