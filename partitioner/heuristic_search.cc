// SolveOrder and HeuristicSearch (see order_search.h).
#include <algorithm>
#include <numeric>

#include "partitioner/order_search.h"
#include "partitioner/stage_dp.h"

namespace tessera::partitioner {
namespace {

// Best latency of layer 0 on d over its formats (a device speed score).
double Speed(const CostGrid& g, int d) {
  double best = std::numeric_limits<double>::infinity();
  for (int f = 0; f < g.num_formats(); ++f) {
    if (g.supported(d, f)) best = std::min(best, g.lat_ms(d, 0, f) + g.decode_ms(d, 0, f));
  }
  return best;
}

std::vector<int> SortedBy(int n, const std::vector<double>& key) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return key[a] < key[b]; });
  return order;
}

// Greedy chain: start at `start`, then always the unused device with the
// cheapest link from the current one (speed breaks ties).
std::vector<int> NearestChain(const CostGrid& g, int start,
                              const std::vector<double>& speed) {
  const int n = g.num_devices();
  std::vector<bool> used(n, false);
  std::vector<int> order = {start};
  used[start] = true;
  while (static_cast<int>(order.size()) < n) {
    int best = -1;
    double best_cost = std::numeric_limits<double>::infinity();
    for (int d = 0; d < n; ++d) {
      if (used[d] || !g.link(order.back(), d).usable) continue;
      double cost = g.link(order.back(), d).decode_ms + 1e-9 * speed[d];
      if (cost < best_cost) best_cost = cost, best = d;
    }
    if (best < 0) break;
    order.push_back(best);
    used[best] = true;
  }
  for (int d = 0; d < n; ++d) {
    if (!used[d]) order.push_back(d);
  }
  return order;
}

class Heuristic {
 public:
  Heuristic(const Problem& p, const CostGrid& g, const SearchOptions& o,
            double incumbent, double lambda)
      : problem_(p), grid_(g), options_(o), lambda_(lambda),
        classes_(DeviceClasses(g)) {
    best_.objective = incumbent;
    speed_.resize(g.num_devices());
    for (int d = 0; d < g.num_devices(); ++d) speed_[d] = Speed(g, d);
    by_speed_ = SortedBy(g.num_devices(), speed_);
  }

  SearchResult Run() {
    for (int d = 0; d < grid_.num_devices(); ++d) {
      if (classes_[d] == d) Try({d}, /*counted=*/false);
    }
    for (const std::vector<int>& order : StartOrders()) Try(order, true);
    LocalSearch();
    return best_;
  }

 private:
  std::vector<std::vector<int>> StartOrders() const {
    const int n = grid_.num_devices();
    std::vector<double> memory(n);
    for (int d = 0; d < n; ++d) memory[d] = -grid_.device(d).budget_bytes;
    std::vector<std::vector<int>> orders = {by_speed_, SortedBy(n, memory)};
    for (int i = 0; i < std::min(n, 3); ++i) {
      orders.push_back(NearestChain(grid_, by_speed_[i], speed_));
    }
    return orders;
  }

  // Evaluates an order; true when it improved the best plan.
  bool Try(const std::vector<int>& order, bool counted) {
    if (counted && evaluations_ >= options_.max_order_evaluations) return false;
    if (counted) ++evaluations_;
    SearchResult r = SolveOrder(problem_, grid_, order,
                                options_.heuristic_max_labels, best_.objective,
                                lambda_, options_.heuristic_skip_window);
    ++best_.sequences;
    best_.trimmed = best_.trimmed || r.trimmed;
    if (!r.found || r.objective >= best_.objective) return false;
    best_.found = true;
    best_.objective = r.objective;
    best_.stages = r.stages;
    return true;
  }

  // The devices of the best plan in order, then the rest, fastest first.
  std::vector<int> Complete(std::vector<int> used) const {
    std::vector<bool> in(grid_.num_devices(), false);
    for (int d : used) in[d] = true;
    for (int d : by_speed_) {
      if (!in[d]) used.push_back(d);
    }
    return used;
  }

  bool TryInsertions(const std::vector<int>& used) {
    std::vector<bool> in(grid_.num_devices(), false);
    for (int d : used) in[d] = true;
    for (int u : by_speed_) {
      if (in[u] || classes_[u] != u) continue;
      for (size_t pos = 0; pos <= used.size(); ++pos) {
        std::vector<int> next = used;
        next.insert(next.begin() + pos, u);
        if (Try(Complete(next), true)) return true;
      }
    }
    return false;
  }

  bool TrySwaps(const std::vector<int>& used) {
    for (size_t i = 0; i < used.size(); ++i) {
      for (size_t j = i + 1; j < used.size(); ++j) {
        if (classes_[used[i]] == classes_[used[j]]) continue;
        std::vector<int> next = used;
        std::swap(next[i], next[j]);
        if (Try(Complete(next), true)) return true;
      }
    }
    return false;
  }

  void LocalSearch() {
    while (best_.found && evaluations_ < options_.max_order_evaluations) {
      std::vector<int> used;
      for (const Stage& s : best_.stages) used.push_back(s.device);
      if (!TrySwaps(used) && !TryInsertions(used)) break;
    }
  }

  const Problem& problem_;
  const CostGrid& grid_;
  const SearchOptions& options_;
  double lambda_;
  std::vector<int> classes_;
  std::vector<double> speed_;
  std::vector<int> by_speed_;
  SearchResult best_;
  int64_t evaluations_ = 0;
};

}  // namespace

SearchResult SolveOrder(const Problem& problem, const CostGrid& grid,
                        const std::vector<int>& order, size_t max_labels,
                        double incumbent, double lambda, int skip_window) {
  StageDp dp(problem, grid, max_labels, lambda);
  dp.set_incumbent(incumbent);
  StepArena arena;
  SearchResult result;
  result.objective = incumbent;
  const int n = grid.num_layers();
  std::vector<std::vector<LabelSet>> closed(order.size());
  for (size_t j = 0; j < order.size(); ++j) {
    std::vector<LabelSet> incoming(n + 1);
    if (j == 0) incoming[0].push_back(Label{});
    const size_t window = static_cast<size_t>(std::max(skip_window, 1));
    for (size_t i = j > window ? j - window : 0; i < j; ++i) {
      for (int a = 1; a < n; ++a) {
        for (const Label& l : closed[i][a]) {
          Label linked;
          if (dp.AddLink(l, order[i], order[j], linked)) {
            incoming[a].push_back(linked);
          }
        }
      }
    }
    dp.ExtendColumn(order[j], j == 0, incoming, closed[j], arena);
    for (const Label& l : closed[j][n]) {
      double v = dp.CompleteValue(l, order[0], order[j]);
      if (v < result.objective) {
        dp.set_incumbent(v);
        result.found = true;
        result.objective = v;
        result.stages = arena.Reconstruct(l.step, problem.costs.formats);
      }
    }
  }
  result.complete = true;
  result.trimmed = dp.trimmed();
  result.sequences = 1;
  return result;
}

SearchResult HeuristicSearch(const Problem& problem, const CostGrid& grid,
                             const SearchOptions& options, double incumbent,
                             double lambda) {
  return Heuristic(problem, grid, options, incumbent, lambda).Run();
}

}  // namespace tessera::partitioner
