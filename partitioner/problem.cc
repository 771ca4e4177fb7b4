#include "partitioner/problem.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::partitioner {
namespace {

using model::GgmlType;

// Bandwidth and FLOP/s of `d` for `format`; for a format it does not list
// (the head's), its slowest figures.
FormatPerf PerfOrSlowest(const DeviceProfile& d, GgmlType format) {
  auto it = d.perf.find(format);
  if (it != d.perf.end()) return it->second;
  FormatPerf slowest = d.perf.begin()->second;
  for (const auto& [f, p] : d.perf) {
    slowest.decode_bytes_per_s =
        std::min(slowest.decode_bytes_per_s, p.decode_bytes_per_s);
    slowest.prefill_flop_per_s =
        std::min(slowest.prefill_flop_per_s, p.prefill_flop_per_s);
  }
  return slowest;
}

// Bandwidth for reading the F16 KV cache.
double KvBandwidth(const DeviceProfile& d) {
  auto it = d.perf.find(GgmlType::kF16);
  if (it != d.perf.end()) return it->second.decode_bytes_per_s;
  double best = 0;
  for (const auto& [f, p] : d.perf) best = std::max(best, p.decode_bytes_per_s);
  return best;
}

}  // namespace

const char* ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kLatency: return "latency";
    case Objective::kThroughput: return "throughput";
    case Objective::kMix: return "mix";
  }
  return "?";
}

absl::StatusOr<Objective> ParseObjective(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (Objective o :
       {Objective::kLatency, Objective::kThroughput, Objective::kMix}) {
    if (lower == ObjectiveName(o)) return o;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown objective '", name, "' (want latency, throughput or mix)"));
}

absl::Status ValidateProblem(const Problem& p) {
  TESSERA_RETURN_IF_ERROR(ValidateCluster(p.cluster));
  TESSERA_RETURN_IF_ERROR(ValidateWorkload(p.workload));
  TESSERA_RETURN_IF_ERROR(ValidateQuality(p.quality, p.costs));
  if (std::isnan(p.quality_budget) || p.quality_budget < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("quality_budget must be >= 0, got ", p.quality_budget));
  }
  if (!(p.latency_weight >= 0 && p.latency_weight <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "latency_weight must be in [0, 1], got ", p.latency_weight));
  }
  const int64_t tokens = p.workload.prompt_tokens + p.workload.gen_tokens;
  if (p.costs.context_length > 0 && tokens > p.costs.context_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workload of ", tokens, " tokens (prompt + generated) exceeds the "
        "model's context length ", p.costs.context_length));
  }
  int codec = static_cast<int>(p.workload.codec);
  if (p.costs.activation_bytes_per_token[codec] <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workload.codec ", CodecName(p.workload.codec),
        " cannot encode activations of width ", p.costs.dim));
  }
  return absl::OkStatus();
}

Problem RestrictToFormat(const Problem& problem, int f) {
  Problem out = problem;
  out.costs.formats = {problem.costs.formats[f]};
  out.quality.formats = out.costs.formats;
  for (auto& row : out.costs.layer_weight_bytes) row = {row[f]};
  for (auto& row : out.quality.cost) row = {row[f]};
  return out;
}

CostGrid CostGrid::Build(const Problem& p) {
  CostGrid g;
  g.num_devices_ = static_cast<int>(p.cluster.devices.size());
  g.num_layers_ = static_cast<int>(p.costs.n_layers);
  g.num_formats_ = p.costs.num_formats();
  g.prompt_tokens_ = p.workload.prompt_tokens;
  g.gen_tokens_ = p.workload.gen_tokens;
  g.requests_ = p.workload.concurrent_requests;
  g.BuildLayers(p);
  g.BuildDevices(p);
  g.BuildLinks(p);
  return g;
}

void CostGrid::BuildLayers(const Problem& p) {
  const CostTable& c = p.costs;
  const double kv_tokens = static_cast<double>(prompt_tokens_ + gen_tokens_) *
                           static_cast<double>(requests_);
  bytes_.resize(static_cast<size_t>(num_layers_) * num_formats_);
  quality_.resize(bytes_.size());
  for (int l = 0; l < num_layers_; ++l) {
    for (int f = 0; f < num_formats_; ++f) {
      bytes_[l * num_formats_ + f] = c.layer_weight_bytes[l][f] +
                                     c.kv_bytes_per_token * kv_tokens;
      quality_[l * num_formats_ + f] = p.quality.cost[l][f];
    }
  }
  const size_t n = static_cast<size_t>(num_devices_) * num_layers_ * num_formats_;
  lat_.assign(n, 0);
  dec_.assign(n, 0);
  pre_.assign(n, 0);
  supported_.assign(static_cast<size_t>(num_devices_) * num_formats_, false);
  for (int d = 0; d < num_devices_; ++d) {
    for (int f = 0; f < num_formats_; ++f) {
      auto it = p.cluster.devices[d].perf.find(c.formats[f]);
      if (it == p.cluster.devices[d].perf.end()) continue;
      supported_[d * num_formats_ + f] = true;
      FillTimes(p, d, f, it->second);
    }
  }
}

void CostGrid::FillTimes(const Problem& p, int d, int f, const FormatPerf& perf) {
  const CostTable& c = p.costs;
  const double prompt = static_cast<double>(prompt_tokens_);
  const double gen = static_cast<double>(gen_tokens_);
  const double ctx_prefill = (prompt + 1) / 2;
  const double ctx_decode = prompt + gen / 2;
  const double kv_bw = KvBandwidth(p.cluster.devices[d]);
  for (int l = 0; l < num_layers_; ++l) {
    const double weights = static_cast<double>(c.layer_weight_bytes[l][f]);
    const double flops = c.layer_flops_per_token[l];
    const double attn = c.attn_flops_per_context_token;
    const double pre = std::max(
        prompt * (flops + attn * ctx_prefill) / perf.prefill_flop_per_s,
        weights / perf.decode_bytes_per_s);
    const double dec = std::max(
        (flops + attn * ctx_decode) / perf.prefill_flop_per_s,
        weights / perf.decode_bytes_per_s +
            c.kv_bytes_per_token * ctx_decode / kv_bw);
    const size_t i = Index(d, l, f);
    pre_[i] = 1e3 * pre;
    dec_[i] = 1e3 * dec;
    lat_[i] = pre_[i] + (gen - 1) * dec_[i];
  }
}

void CostGrid::BuildDevices(const Problem& p) {
  const CostTable& c = p.costs;
  const double prompt = static_cast<double>(prompt_tokens_);
  devices_.resize(num_devices_);
  for (int d = 0; d < num_devices_; ++d) {
    const DeviceProfile& dev = p.cluster.devices[d];
    DeviceFixed& out = devices_[d];
    out.budget_bytes = static_cast<double>(dev.memory_budget_bytes);
    out.overhead_ms = dev.step_overhead_ms;
    FormatPerf head = PerfOrSlowest(dev, c.head_format);
    double head_matrix = static_cast<double>(c.head_bytes - c.head_norm_bytes);
    out.head_ms = 1e3 * std::max(c.head_flops_per_token / head.prefill_flop_per_s,
                                 head_matrix / head.decode_bytes_per_s);
    out.embedding_bytes = static_cast<double>(c.embedding_bytes);
    out.head_bytes = static_cast<double>(c.head_bytes);
    out.head_bytes_shared = static_cast<double>(
        c.tied_embeddings ? c.head_norm_bytes : c.head_bytes);
    out.stage_bytes = prompt * static_cast<double>(c.scratch_bytes_per_token);
    out.last_stage_bytes = static_cast<double>(c.logits_bytes);
  }
}

void CostGrid::BuildLinks(const Problem& p) {
  const double prompt = static_cast<double>(prompt_tokens_);
  const double act = static_cast<double>(
      p.costs.activation_bytes_per_token[static_cast<int>(p.workload.codec)]);
  links_.assign(static_cast<size_t>(num_devices_) * num_devices_, LinkCost{});
  for (int a = 0; a < num_devices_; ++a) {
    for (int b = 0; b < num_devices_; ++b) {
      if (a == b) continue;
      std::optional<LinkProfile> l = FindLink(p.cluster, a, b);
      if (!l.has_value()) continue;
      LinkCost& out = links_[a * num_devices_ + b];
      const double ms_per_byte = 1e3 / l->bandwidth_bytes_per_s;
      out.usable = true;
      out.busy_ms = act * ms_per_byte;
      out.prefill_ms = l->latency_ms + prompt * act * ms_per_byte;
      out.decode_ms = l->latency_ms + out.busy_ms;
      out.token_busy_ms = 4 * ms_per_byte;
      out.token_ms = l->latency_ms + out.token_busy_ms;
    }
  }
}

double CostGrid::StageLatMs(int d, bool last) const {
  const DeviceFixed& dev = devices_[d];
  return static_cast<double>(gen_tokens_) *
         (dev.overhead_ms + (last ? dev.head_ms : 0.0));
}

double CostGrid::StageDecodeMs(int d, bool last) const {
  const DeviceFixed& dev = devices_[d];
  return dev.overhead_ms + (last ? dev.head_ms : 0.0);
}

double CostGrid::LinkLatMs(int from, int to) const {
  const LinkCost& l = link(from, to);
  return l.prefill_ms + static_cast<double>(gen_tokens_ - 1) * l.decode_ms;
}

double CostGrid::ReturnLatMs(int from, int to) const {
  return static_cast<double>(gen_tokens_) * link(from, to).token_ms;
}

double CostGrid::LinkBusyMs(int from, int to) const {
  return static_cast<double>(prompt_tokens_ + gen_tokens_ - 1) *
         link(from, to).busy_ms;
}

double CostGrid::ReturnBusyMs(int from, int to) const {
  return static_cast<double>(gen_tokens_) * link(from, to).token_busy_ms;
}

double CostGrid::StageFixedBytes(int d, bool first, bool last) const {
  const DeviceFixed& dev = devices_[d];
  double bytes = dev.stage_bytes;
  if (first) bytes += dev.embedding_bytes;
  if (last) {
    bytes += dev.last_stage_bytes + (first ? dev.head_bytes_shared : dev.head_bytes);
  }
  return bytes;
}

}  // namespace tessera::partitioner
