#include "partitioner/lagrangian_search.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/logging.h"

namespace tessera::partitioner {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class Lagrangian {
 public:
  Lagrangian(const Problem& p, const CostGrid& g, const SearchOptions& o)
      : problem_(p), grid_(g), options_(o),
        small_(g.num_devices() <= o.max_exact_devices) {
    options_.max_labels = o.lagrangian_max_labels;
  }

  LagrangianResult Run() {
    std::optional<Probe> zero = Search(0, /*full=*/true);
    if (!zero.has_value()) return result_;  // nothing fits, whatever quality
    const double budget = problem_.quality_budget;
    if (zero->quality <= budget) return result_;
    // Grow lambda until the plan meets the budget, then bisect.
    double lo = 0;
    double hi = zero->penalised / std::max(zero->quality, 1e-300) / 64;
    std::optional<Probe> at_hi;
    for (int i = 0; i < 40; ++i) {
      at_hi = Search(hi, false);
      if (!at_hi.has_value() || at_hi->quality <= budget) break;
      lo = hi;
      hi *= 4;
    }
    if (!at_hi.has_value() || at_hi->quality > budget) return result_;
    for (int i = 0; i < 12; ++i) {
      const double mid = (lo + hi) / 2;
      std::optional<Probe> m = Search(mid, false);
      if (m.has_value() && m->quality <= budget) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    if (!small_) Search(hi, true);
    return result_;
  }

 private:
  struct Probe {
    double penalised;  // the DP's value at this lambda
    double quality;    // quality cost of its plan
  };

  // Searches at `lambda` (every order for small clusters; for large ones the
  // heuristic when `full`, else the best order so far) and records the plan.
  std::optional<Probe> Search(double lambda, bool full) {
    const double inf = kInf;
    SearchResult r;
    if (small_) {
      r = ExhaustiveSearch(problem_, grid_, options_, inf, lambda);
    } else if (full || order_.empty()) {
      r = HeuristicSearch(problem_, grid_, options_, inf, lambda);
    } else {
      r = SolveOrder(problem_, grid_, order_, options_.heuristic_max_labels, inf,
                     lambda, options_.heuristic_skip_window);
    }
    result_.sequences += r.sequences;
    result_.trimmed = result_.trimmed || r.trimmed;
    if (!r.found) return std::nullopt;
    auto predictions = Evaluate(problem_, grid_, r.stages);
    CHECK(predictions.ok()) << predictions.status();  // the DP builds valid plans
    Record(r, *predictions, lambda);
    return Probe{r.objective, predictions->quality_cost};
  }

  void Record(const SearchResult& r, const Predictions& p, double lambda) {
    if (p.fits && p.objective < result_.objective) {
      result_.found = true;
      result_.objective = p.objective;
      result_.stages = r.stages;
      result_.lambda = lambda;
    }
    // min over plans of (penalised - lambda * budget) <= the optimum when
    // every order was searched exactly (weak duality; see header).
    if (small_ && r.complete && !r.trimmed) {
      const double budget = std::isfinite(problem_.quality_budget)
                                ? problem_.quality_budget : 0.0;
      result_.dual_bound =
          std::max(result_.dual_bound, r.objective - lambda * budget);
    }
    // The order for the next probes: this plan's devices, then the rest.
    std::vector<bool> used(grid_.num_devices(), false);
    order_.clear();
    for (const Stage& s : r.stages) {
      order_.push_back(s.device);
      used[s.device] = true;
    }
    for (int d = 0; d < grid_.num_devices(); ++d) {
      if (!used[d]) order_.push_back(d);
    }
  }

  const Problem& problem_;
  const CostGrid& grid_;
  SearchOptions options_;
  const bool small_;
  std::vector<int> order_;
  LagrangianResult result_;
};

}  // namespace

LagrangianResult LagrangianSearch(const Problem& problem, const CostGrid& grid,
                                  const SearchOptions& options) {
  return Lagrangian(problem, grid, options).Run();
}

}  // namespace tessera::partitioner
