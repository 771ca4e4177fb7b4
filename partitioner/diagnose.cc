#include "partitioner/diagnose.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "partitioner/planner.h"

namespace tessera::partitioner {
namespace {

std::string Bytes(double b) {
  return absl::StrFormat("%.0f bytes (%.2f GiB)", b, b / (1024.0 * 1024 * 1024));
}

// Smallest bytes of the layers over formats some device can run.
double SmallestLayerBytes(const CostGrid& g) {
  double total = 0;
  for (int l = 0; l < g.num_layers(); ++l) {
    double smallest = std::numeric_limits<double>::infinity();
    for (int f = 0; f < g.num_formats(); ++f) {
      for (int d = 0; d < g.num_devices(); ++d) {
        if (g.supported(d, f)) smallest = std::min(smallest, g.bytes(l, f));
      }
    }
    total += smallest;
  }
  return total;
}

absl::Status NotEnoughMemory(const Problem& p, const CostGrid& g, double need,
                             double capacity) {
  const double missing = need - capacity;
  const double kv = static_cast<double>(p.costs.kv_bytes_per_token) *
                    p.costs.n_layers *
                    (p.workload.prompt_tokens + p.workload.gen_tokens) *
                    p.workload.concurrent_requests;
  std::string msg = absl::StrCat(
      "model '", p.costs.model_name, "' fits nowhere: it needs at least ",
      Bytes(need), " (every layer in its smallest candidate format, the "
      "embedding, the head and a KV cache of ", Bytes(kv), " for ",
      p.workload.concurrent_requests, " request(s) of ",
      p.workload.prompt_tokens + p.workload.gen_tokens,
      " tokens) but the cluster's memory budgets total ", Bytes(capacity),
      ": ", Bytes(missing), " missing. It would fit with ", Bytes(missing),
      " more device memory (e.g. another device with that much free)");
  if (kv >= missing) {
    absl::StrAppend(&msg, ", or with a KV cache at least ", Bytes(missing),
                    " smaller (fewer concurrent requests or tokens)");
  }
  absl::StrAppend(&msg, ".");
  return absl::ResourceExhaustedError(msg);
}

}  // namespace

absl::Status DiagnoseNoPlan(const Problem& p, const CostGrid& g,
                            const SearchOptions& options) {
  double fixed = std::numeric_limits<double>::infinity();
  double capacity = 0, largest = 0;
  for (int d = 0; d < g.num_devices(); ++d) {
    fixed = std::min(fixed, g.StageFixedBytes(d, true, true));
    capacity += g.device(d).budget_bytes;
    largest = std::max(largest, g.device(d).budget_bytes);
  }
  const double need = SmallestLayerBytes(g) + fixed;
  if (need > capacity) return NotEnoughMemory(p, g, need, capacity);
  if (std::isfinite(p.quality_budget)) {
    Problem loose = p;
    loose.quality_budget = std::numeric_limits<double>::infinity();
    auto plan = SolvePlan(loose, options);
    if (plan.ok()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "no plan within the quality budget ", p.quality_budget,
          " fits in memory; a plan with quality cost ",
          plan->predictions.quality_cost,
          " fits: raise the quality budget to at least that (allow smaller "
          "formats), or add device memory"));
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the cluster's memory (", Bytes(capacity), ") would hold the model (",
      Bytes(need), "), but no pipeline can be formed: check that consecutive "
      "devices are linked (a default_link covers missing pairs) and that a "
      "stage fits a device (largest budget ", Bytes(largest),
      "; every stage needs its scratch, the first the embedding (",
      Bytes(g.device(0).embedding_bytes), "), the last the head (",
      Bytes(g.device(0).head_bytes), "))"));
}

}  // namespace tessera::partitioner
