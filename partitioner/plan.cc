#include "partitioner/plan.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tessera::partitioner {
namespace {

absl::Status CheckStage(const Problem& p, const CostGrid& g, const Stage& s,
                        size_t index, int64_t expected_first) {
  std::string where = absl::StrCat("stage ", index);
  if (s.device < 0 || s.device >= g.num_devices()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown device index ", s.device));
  }
  if (s.first_layer != expected_first || s.end_layer <= s.first_layer ||
      s.end_layer > g.num_layers()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": layers [", s.first_layer, ", ", s.end_layer,
        ") do not continue from layer ", expected_first));
  }
  if (static_cast<int64_t>(s.formats.size()) != s.end_layer - s.first_layer) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", s.formats.size(), " formats for ",
        s.end_layer - s.first_layer, " layers"));
  }
  for (model::GgmlType t : s.formats) {
    int f = p.costs.FormatIndex(t);
    if (f < 0 || !g.supported(s.device, f)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": device ", p.cluster.devices[s.device].name,
          " cannot run format ", model::TypeName(t)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStages(const Problem& p, const CostGrid& g,
                         const std::vector<Stage>& stages) {
  if (stages.empty()) return absl::InvalidArgumentError("plan has no stages");
  std::set<int> used;
  int64_t next = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    TESSERA_RETURN_IF_ERROR(CheckStage(p, g, stages[i], i, next));
    next = stages[i].end_layer;
    if (!used.insert(stages[i].device).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stage ", i, ": device ", p.cluster.devices[stages[i].device].name,
          " already holds an earlier stage"));
    }
    if (i > 0 && !g.link(stages[i - 1].device, stages[i].device).usable) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stage ", i, ": no link from ",
          p.cluster.devices[stages[i - 1].device].name, " to ",
          p.cluster.devices[stages[i].device].name));
    }
  }
  if (next != g.num_layers()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan covers layers [0, ", next, ") of ", g.num_layers()));
  }
  if (stages.size() > 1 &&
      !g.link(stages.back().device, stages.front().device).usable) {
    return absl::InvalidArgumentError("no link from the last stage back to the first");
  }
  return absl::OkStatus();
}

// Accumulates one stage into the predictions; returns its busy time per
// request (one prefill and G - 1 decode steps: its latency contribution).
double AddStage(const Problem& p, const CostGrid& g, const Stage& s,
                bool first, bool last, Predictions& out) {
  const auto& dev = g.device(s.device);
  double prefill = dev.overhead_ms, decode = dev.overhead_ms;
  double bytes = g.StageFixedBytes(s.device, first, last);
  double lat = static_cast<double>(g.gen_tokens()) * dev.overhead_ms;
  for (int64_t l = s.first_layer; l < s.end_layer; ++l) {
    int f = p.costs.FormatIndex(s.formats[l - s.first_layer]);
    int li = static_cast<int>(l);
    prefill += g.prefill_ms(s.device, li, f);
    decode += g.decode_ms(s.device, li, f);
    lat += g.lat_ms(s.device, li, f);
    bytes += g.bytes(li, f);
    out.quality_cost += g.quality(li, f);
  }
  if (last) {
    prefill += dev.head_ms;
    decode += dev.head_ms;
    lat += static_cast<double>(g.gen_tokens()) * dev.head_ms;
  }
  out.ttft_ms += prefill;
  out.decode_ms_per_token += decode;
  out.request_latency_ms += lat;
  out.memory_bytes[s.device] = static_cast<int64_t>(bytes);
  if (bytes > dev.budget_bytes && out.violation.empty()) {
    out.violation = absl::StrCat("device ", p.cluster.devices[s.device].name,
                                 " needs ", static_cast<int64_t>(bytes),
                                 " bytes, budget ",
                                 static_cast<int64_t>(dev.budget_bytes));
  }
  return lat;
}

void AddLink(const CostGrid::LinkCost& link, double lat, bool is_return,
             Predictions& out) {
  double first = is_return ? link.token_ms : link.prefill_ms;
  double step = is_return ? link.token_ms : link.decode_ms;
  out.ttft_ms += first;
  out.decode_ms_per_token += step;
  out.request_latency_ms += lat;
}

}  // namespace

double ObjectiveValue(const Problem& p, double request_latency_ms,
                      double bottleneck_ms) {
  const double g = static_cast<double>(p.workload.gen_tokens);
  const double cycle =
      CycleMs(request_latency_ms, bottleneck_ms,
              static_cast<double>(p.workload.concurrent_requests), g);
  switch (p.objective) {
    case Objective::kLatency: return request_latency_ms;
    case Objective::kThroughput: return cycle;
    case Objective::kMix:
      return p.latency_weight * request_latency_ms / g +
             (1 - p.latency_weight) * cycle;
  }
  return request_latency_ms;
}

void MarkEnds(std::vector<Stage>& stages) {
  for (size_t i = 0; i < stages.size(); ++i) {
    stages[i].holds_embedding = i == 0;
    stages[i].holds_head = i + 1 == stages.size();
  }
}

absl::StatusOr<Predictions> Evaluate(const Problem& p, const CostGrid& g,
                                     const std::vector<Stage>& stages) {
  TESSERA_RETURN_IF_ERROR(CheckStages(p, g, stages));
  Predictions out;
  out.memory_bytes.assign(g.num_devices(), 0);
  const size_t n = stages.size();
  double busiest = 0;  // ms per request
  for (size_t i = 0; i < n; ++i) {
    busiest = std::max(busiest, AddStage(p, g, stages[i], i == 0, i + 1 == n, out));
    if (i + 1 < n) {
      int a = stages[i].device, b = stages[i + 1].device;
      AddLink(g.link(a, b), g.LinkLatMs(a, b), false, out);
      busiest = std::max(busiest, g.LinkBusyMs(a, b));
    }
  }
  if (n > 1) {
    int a = stages.back().device, b = stages.front().device;
    AddLink(g.link(a, b), g.ReturnLatMs(a, b), true, out);
    busiest = std::max(busiest, g.ReturnBusyMs(a, b));
  }
  const double gen = static_cast<double>(g.gen_tokens());
  out.bottleneck_ms = busiest / gen;
  out.cycle_ms = CycleMs(out.request_latency_ms, out.bottleneck_ms,
                         static_cast<double>(g.concurrent_requests()), gen);
  out.throughput_tokens_per_s = out.cycle_ms > 0 ? 1e3 / out.cycle_ms : 0;
  out.objective = ObjectiveValue(p, out.request_latency_ms, out.bottleneck_ms);
  if (out.quality_cost > p.quality_budget && out.violation.empty()) {
    out.violation = absl::StrCat("quality cost ", out.quality_cost,
                                 " exceeds the budget ", p.quality_budget);
  }
  out.fits = out.violation.empty();
  return out;
}

}  // namespace tessera::partitioner
