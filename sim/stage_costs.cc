#include "sim/stage_costs.h"

#include <algorithm>

#include "common/status_macros.h"

namespace tessera::sim {
namespace {

namespace pt = ::tessera::partitioner;
using model::GgmlType;

// As in partitioner/problem.cc: a device without a figure for the head's
// format runs it at its slowest figures; KV is read at F16 speed.
pt::FormatPerf PerfOrSlowest(const pt::DeviceProfile& d, GgmlType format) {
  auto it = d.perf.find(format);
  if (it != d.perf.end()) return it->second;
  pt::FormatPerf slowest = d.perf.begin()->second;
  for (const auto& [f, p] : d.perf) {
    slowest.decode_bytes_per_s = std::min(slowest.decode_bytes_per_s, p.decode_bytes_per_s);
    slowest.prefill_flop_per_s = std::min(slowest.prefill_flop_per_s, p.prefill_flop_per_s);
  }
  return slowest;
}

double KvBandwidth(const pt::DeviceProfile& d) {
  auto it = d.perf.find(GgmlType::kF16);
  if (it != d.perf.end()) return it->second.decode_bytes_per_s;
  double best = 0;
  for (const auto& [f, p] : d.perf) best = std::max(best, p.decode_bytes_per_s);
  return best;
}

StageCosts OneStage(const pt::Problem& p, const pt::CostGrid& grid,
                    const pt::Stage& s, bool last) {
  const pt::CostTable& c = p.costs;
  const pt::DeviceProfile& dev = p.cluster.devices[s.device];
  const double ctx = static_cast<double>(p.workload.prompt_tokens) +
                     static_cast<double>(p.workload.gen_tokens) / 2;
  StageCosts out;
  out.device = s.device;
  out.overhead_ms = dev.step_overhead_ms;
  out.prefill_ms = dev.step_overhead_ms;
  for (int64_t l = s.first_layer; l < s.end_layer; ++l) {
    const GgmlType t = s.formats[l - s.first_layer];
    const int f = c.FormatIndex(t);
    const pt::FormatPerf& perf = dev.perf.at(t);
    out.prefill_ms += grid.prefill_ms(s.device, static_cast<int>(l), f);
    LayerDecodeCost layer;
    layer.compute_ms = 1e3 * (c.layer_flops_per_token[l] + c.attn_flops_per_context_token * ctx) /
                       perf.prefill_flop_per_s;
    layer.weights_ms = 1e3 * static_cast<double>(c.layer_weight_bytes[l][f]) /
                       perf.decode_bytes_per_s;
    layer.kv_ms = 1e3 * static_cast<double>(c.kv_bytes_per_token) * ctx / KvBandwidth(dev);
    out.layers.push_back(layer);
  }
  if (last) {
    const pt::FormatPerf head = PerfOrSlowest(dev, c.head_format);
    out.has_head = true;
    out.head_compute_ms = 1e3 * c.head_flops_per_token / head.prefill_flop_per_s;
    out.head_weights_ms = 1e3 * static_cast<double>(c.head_bytes - c.head_norm_bytes) /
                          head.decode_bytes_per_s;
    out.prefill_ms += grid.device(s.device).head_ms;
  }
  return out;
}

}  // namespace

double StageCosts::DecodeMs(int batch) const {
  const double b = static_cast<double>(batch);
  double ms = overhead_ms;
  for (const LayerDecodeCost& l : layers) {
    ms += std::max(b * l.compute_ms, l.weights_ms + b * l.kv_ms);
  }
  if (has_head) ms += std::max(b * head_compute_ms, head_weights_ms);
  return ms;
}

absl::StatusOr<std::vector<StageCosts>> BuildStageCosts(
    const pt::Problem& problem, const std::vector<pt::Stage>& stages) {
  TESSERA_RETURN_IF_ERROR(pt::ValidateProblem(problem));
  const pt::CostGrid grid = pt::CostGrid::Build(problem);
  TESSERA_RETURN_IF_ERROR(pt::Evaluate(problem, grid, stages).status());
  std::vector<StageCosts> out;
  for (size_t i = 0; i < stages.size(); ++i) {
    out.push_back(OneStage(problem, grid, stages[i], i + 1 == stages.size()));
  }
  return out;
}

}  // namespace tessera::sim
