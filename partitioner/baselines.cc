#include "partitioner/baselines.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "partitioner/planner.h"

namespace tessera::partitioner {
namespace {

int64_t TotalBytes(const Predictions& p) {
  return std::accumulate(p.memory_bytes.begin(), p.memory_bytes.end(), int64_t{0});
}

// The split `counts` in the uniform format that does best (see header).
absl::StatusOr<Plan> SplitBaseline(const Problem& p, const CostGrid& g,
                                   const std::vector<int64_t>& counts,
                                   const std::string& name) {
  std::optional<Plan> best, smallest;
  for (model::GgmlType format : p.costs.formats) {
    Plan plan;
    plan.stages = StagesFromCounts(counts, format);
    auto predictions = Evaluate(p, g, plan.stages);
    if (!predictions.ok()) continue;  // a device cannot run it, or no link
    plan.method = absl::StrCat(name, " (", model::TypeName(format), ")");
    plan.predictions = *predictions;
    if (plan.predictions.fits &&
        (!best.has_value() || plan.predictions.objective < best->predictions.objective)) {
      best = plan;
    }
    if (!smallest.has_value() ||
        TotalBytes(plan.predictions) < TotalBytes(smallest->predictions)) {
      smallest = plan;
    }
  }
  if (best.has_value()) return *best;
  if (smallest.has_value()) return *smallest;
  return absl::FailedPreconditionError(absl::StrCat(
      name, ": no candidate format runs on every device of the split, or "
            "consecutive devices are not linked"));
}

}  // namespace

std::vector<int64_t> EvenCounts(int64_t n_layers, int num_devices) {
  std::vector<int64_t> counts(num_devices, 0);
  for (int d = 0; d < num_devices; ++d) {
    counts[d] = n_layers / num_devices + (d < n_layers % num_devices ? 1 : 0);
  }
  return counts;
}

std::vector<int64_t> ProportionalCounts(int64_t n_layers,
                                        const std::vector<double>& weights) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<int64_t> counts(weights.size(), 0);
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t d = 0; d < weights.size(); ++d) {
    double exact = total > 0 ? n_layers * weights[d] / total : 0;
    counts[d] = static_cast<int64_t>(exact);
    assigned += counts[d];
    remainders.push_back({exact - counts[d], d});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 0; assigned < n_layers; ++i, ++assigned) {
    counts[remainders[i % remainders.size()].second] += 1;
  }
  return counts;
}

std::vector<Stage> StagesFromCounts(const std::vector<int64_t>& counts,
                                    model::GgmlType format) {
  std::vector<Stage> stages;
  int64_t next = 0;
  for (size_t d = 0; d < counts.size(); ++d) {
    if (counts[d] == 0) continue;
    Stage s;
    s.device = static_cast<int>(d);
    s.first_layer = next;
    s.end_layer = next + counts[d];
    s.formats.assign(counts[d], format);
    next = s.end_layer;
    stages.push_back(std::move(s));
  }
  MarkEnds(stages);
  return stages;
}

absl::StatusOr<Plan> EvenSplitBaseline(const Problem& p, const CostGrid& g) {
  return SplitBaseline(p, g, EvenCounts(p.costs.n_layers, g.num_devices()),
                       "even split");
}

absl::StatusOr<Plan> MemoryProportionalBaseline(const Problem& p,
                                                const CostGrid& g) {
  std::vector<double> memory;
  for (const DeviceProfile& d : p.cluster.devices) {
    memory.push_back(static_cast<double>(d.memory_budget_bytes));
  }
  return SplitBaseline(p, g, ProportionalCounts(p.costs.n_layers, memory),
                       "memory-proportional split");
}

absl::StatusOr<Plan> UniformFormatBaseline(const Problem& p,
                                           const SearchOptions& options) {
  std::optional<Plan> best;
  for (int f = 0; f < p.costs.num_formats(); ++f) {
    Problem one = RestrictToFormat(p, f);
    auto plan = SolvePlan(one, options);
    if (!plan.ok()) continue;
    if (!best.has_value() || plan->predictions.objective < best->predictions.objective) {
      plan->method = absl::StrCat("uniform ", model::TypeName(p.costs.formats[f]),
                                  " (Tessera search)");
      best = *plan;
    }
  }
  if (best.has_value()) return *best;
  return absl::NotFoundError("no uniform format fits the cluster and the quality budget");
}

}  // namespace tessera::partitioner
