// ExhaustiveSearch and DeviceClasses (see order_search.h).
#include <algorithm>
#include <numeric>

#include "partitioner/order_search.h"
#include "partitioner/stage_dp.h"

namespace tessera::partitioner {
namespace {

bool SameLink(const CostGrid::LinkCost& a, const CostGrid::LinkCost& b) {
  return a.usable == b.usable && a.prefill_ms == b.prefill_ms &&
         a.decode_ms == b.decode_ms && a.busy_ms == b.busy_ms &&
         a.token_ms == b.token_ms && a.token_busy_ms == b.token_busy_ms;
}

bool SameDevice(const CostGrid& g, int a, int b) {
  const auto& x = g.device(a);
  const auto& y = g.device(b);
  if (x.budget_bytes != y.budget_bytes || x.overhead_ms != y.overhead_ms ||
      x.head_ms != y.head_ms || x.embedding_bytes != y.embedding_bytes ||
      x.head_bytes != y.head_bytes || x.head_bytes_shared != y.head_bytes_shared ||
      x.stage_bytes != y.stage_bytes || x.last_stage_bytes != y.last_stage_bytes) {
    return false;
  }
  for (int f = 0; f < g.num_formats(); ++f) {
    if (g.supported(a, f) != g.supported(b, f)) return false;
    for (int l = 0; l < g.num_layers(); ++l) {
      if (g.lat_ms(a, l, f) != g.lat_ms(b, l, f) ||
          g.decode_ms(a, l, f) != g.decode_ms(b, l, f) ||
          g.prefill_ms(a, l, f) != g.prefill_ms(b, l, f)) {
        return false;
      }
    }
  }
  return true;
}

// True when swapping a and b maps every link onto an equal one.
bool SameLinks(const CostGrid& g, int a, int b) {
  if (!SameLink(g.link(a, b), g.link(b, a))) return false;
  for (int k = 0; k < g.num_devices(); ++k) {
    if (k == a || k == b) continue;
    if (!SameLink(g.link(a, k), g.link(b, k)) ||
        !SameLink(g.link(k, a), g.link(k, b))) {
      return false;
    }
  }
  return true;
}

class Exhaustive {
 public:
  Exhaustive(const Problem& p, const CostGrid& g, const SearchOptions& o,
             double incumbent, double lambda)
      : problem_(p), grid_(g), options_(o), dp_(p, g, o.max_labels, lambda),
        classes_(DeviceClasses(g)), used_(g.num_devices(), false) {
    dp_.set_incumbent(incumbent);
    dp_.set_work_limit(o.max_exact_label_work);
    result_.objective = incumbent;
    best_ = incumbent;
    // Fast devices first: good plans early make the bound cut more.
    order_.resize(g.num_devices());
    std::iota(order_.begin(), order_.end(), 0);
    std::vector<double> speed(g.num_devices(), 0);
    for (int d = 0; d < g.num_devices(); ++d) speed[d] = Speed(d);
    std::stable_sort(order_.begin(), order_.end(),
                     [&](int a, int b) { return speed[a] < speed[b]; });
  }

  SearchResult Run() {
    std::vector<LabelSet> incoming(grid_.num_layers() + 1);
    incoming[0].push_back(Label{});
    aborted_ = false;
    for (int d : order_) {
      if (!Allowed(d)) continue;
      Visit(d, true, incoming);
      if (aborted_) break;
    }
    result_.complete = !aborted_;
    result_.trimmed = dp_.trimmed();
    return result_;
  }

 private:
  // Seconds-free speed score: best latency of the first layer on d.
  double Speed(int d) const {
    double best = std::numeric_limits<double>::infinity();
    for (int f = 0; f < grid_.num_formats(); ++f) {
      if (grid_.supported(d, f)) best = std::min(best, grid_.lat_ms(d, 0, f));
    }
    return best;
  }

  // The first unused member of each class stands for the whole class.
  bool Allowed(int d) const {
    if (used_[d]) return false;
    for (int e = 0; e < d; ++e) {
      if (!used_[e] && classes_[e] == classes_[d]) return false;
    }
    return true;
  }

  void Visit(int device, bool first, const std::vector<LabelSet>& incoming) {
    if (++result_.sequences > options_.max_sequences) {
      aborted_ = true;
      return;
    }
    const size_t mark = arena_.size();
    std::vector<LabelSet> closed;
    dp_.ExtendColumn(device, first, incoming, closed, arena_);
    if (dp_.exhausted()) {
      aborted_ = true;
      arena_.Truncate(mark);
      return;
    }
    used_[device] = true;
    sequence_.push_back(device);
    Complete(closed.back());
    Descend(closed);
    sequence_.pop_back();
    used_[device] = false;
    arena_.Truncate(mark);
  }

  void Complete(const LabelSet& done) {
    for (const Label& l : done) {
      double v = dp_.CompleteValue(l, sequence_.front(), sequence_.back());
      if (v < best_) {
        best_ = v;
        dp_.set_incumbent(v);
        result_.found = true;
        result_.objective = v;
        result_.stages = arena_.Reconstruct(l.step, problem_.costs.formats);
      }
    }
  }

  void Descend(const std::vector<LabelSet>& closed) {
    const int n = grid_.num_layers();
    const int last = sequence_.back();
    for (int d : order_) {
      if (aborted_ || !Allowed(d)) continue;
      std::vector<LabelSet> incoming(n + 1);
      bool any = false;
      for (int a = 1; a < n; ++a) {
        for (const Label& l : closed[a]) {
          Label linked;
          if (dp_.AddLink(l, last, d, linked) &&
              dp_.LowerBound(linked, a, d) < dp_.incumbent()) {
            incoming[a].push_back(linked);
            any = true;
          }
        }
      }
      if (any) Visit(d, false, incoming);
    }
  }

  const Problem& problem_;
  const CostGrid& grid_;
  const SearchOptions& options_;
  StageDp dp_;
  std::vector<int> classes_;
  std::vector<bool> used_;
  std::vector<int> order_;
  std::vector<int> sequence_;
  StepArena arena_;
  SearchResult result_;
  double best_;  // objective (penalised in Lagrangian mode) of the best plan
  bool aborted_ = false;
};

}  // namespace

std::vector<int> DeviceClasses(const CostGrid& grid) {
  const int n = grid.num_devices();
  std::vector<int> cls(n);
  for (int d = 0; d < n; ++d) {
    cls[d] = d;
    for (int r = 0; r < d; ++r) {
      if (cls[r] == r && SameDevice(grid, r, d) && SameLinks(grid, r, d)) {
        cls[d] = r;
        break;
      }
    }
  }
  return cls;
}

SearchResult ExhaustiveSearch(const Problem& problem, const CostGrid& grid,
                              const SearchOptions& options, double incumbent,
                              double lambda) {
  Exhaustive search(problem, grid, options, incumbent, lambda);
  return search.Run();
}

}  // namespace tessera::partitioner
